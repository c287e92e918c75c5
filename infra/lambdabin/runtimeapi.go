package lambdabin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RuntimeAPI is a Lambda Runtime API (version 2018-06-01) for one function
// process, as the Lambda service serves it on AWS_LAMBDA_RUNTIME_API: GET
// /runtime/invocation/next hands out the next event, POST
// /runtime/invocation/{id}/response and /error answer it, POST
// /runtime/init/error reports a failed cold start. One invocation is in
// flight at a time, as in one execution environment.
type RuntimeAPI struct {
	ln  net.Listener
	srv *http.Server

	queue chan *invocation
	// turn admits one invocation at a time to the process.
	turn chan struct{}

	mu      sync.Mutex
	pending map[string]*invocation
	seq     int
	initErr *FunctionError

	firstNext   chan struct{} // closed at the first GET /next
	firstNextAt time.Time
	initFailed  chan struct{} // closed at POST /runtime/init/error
	closed      chan struct{}
	closeOnce   sync.Once

	// ARN is sent as Lambda-Runtime-Invoked-Function-Arn.
	ARN string
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan result
}

type result struct {
	out []byte
	err *FunctionError
}

// FunctionError is an error the function reported: an invocation's (POST
// .../error) or its cold start's (POST /runtime/init/error).
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// NewRuntimeAPI serves a Runtime API on a free loopback port.
func NewRuntimeAPI() (*RuntimeAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	a := &RuntimeAPI{
		ln: ln, queue: make(chan *invocation), turn: make(chan struct{}, 1),
		pending: map[string]*invocation{}, firstNext: make(chan struct{}),
		initFailed: make(chan struct{}), closed: make(chan struct{}),
	}
	a.srv = &http.Server{Handler: http.HandlerFunc(a.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

// Addr is host:port, the value of AWS_LAMBDA_RUNTIME_API.
func (a *RuntimeAPI) Addr() string { return a.ln.Addr().String() }

// Close stops serving; a GET /next waiting for an event is answered 500,
// and Invoke calls waiting return an error.
func (a *RuntimeAPI) Close() error {
	a.closeOnce.Do(func() { close(a.closed) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := a.srv.Shutdown(ctx); err != nil {
		return a.srv.Close()
	}
	return nil
}

// Ready is closed once the process asked for its first event: its cold
// start is over.
func (a *RuntimeAPI) Ready() <-chan struct{} { return a.firstNext }

// ReadyAt is when the first GET /next arrived (zero before).
func (a *RuntimeAPI) ReadyAt() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.firstNextAt
}

// InitFailed is closed when the process reported a failed cold start;
// InitError then returns the report.
func (a *RuntimeAPI) InitFailed() <-chan struct{} { return a.initFailed }

// InitError is the failed cold start's report, nil if none came.
func (a *RuntimeAPI) InitError() *FunctionError {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.initErr
}

// Invoke hands payload to the process as the next event and waits for its
// answer, the function's deadline being ctx's (default: 10s, the
// template's Timeout). An error the function posted is a *FunctionError.
func (a *RuntimeAPI) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	select {
	case a.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-a.closed:
		return nil, errors.New("runtime API closed")
	}
	defer func() { <-a.turn }()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	a.mu.Lock()
	a.seq++
	inv := &invocation{id: fmt.Sprintf("req-%06d", a.seq), payload: payload, deadline: deadline, done: make(chan result, 1)}
	a.pending[inv.id] = inv
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.pending, inv.id)
		a.mu.Unlock()
	}()
	select {
	case a.queue <- inv:
	case <-ctx.Done():
		return nil, fmt.Errorf("the function did not ask for the event: %w", ctx.Err())
	case <-a.closed:
		return nil, errors.New("runtime API closed")
	}
	select {
	case r := <-inv.done:
		if r.err != nil {
			return nil, r.err
		}
		return r.out, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer from the function: %w", ctx.Err())
	case <-a.closed:
		return nil, errors.New("runtime API closed before the function answered")
	}
}

const prefix = "/2018-06-01/runtime/"

func (a *RuntimeAPI) serve(w http.ResponseWriter, r *http.Request) {
	p, ok := strings.CutPrefix(r.URL.Path, prefix)
	switch {
	case !ok:
		http.NotFound(w, r)
	case p == "invocation/next" && r.Method == http.MethodGet:
		a.next(w, r)
	case p == "init/error" && r.Method == http.MethodPost:
		fe := readError(r)
		a.mu.Lock()
		first := a.initErr == nil
		if first {
			a.initErr = fe
		}
		a.mu.Unlock()
		if first {
			close(a.initFailed)
		}
		w.WriteHeader(http.StatusAccepted)
	case strings.HasPrefix(p, "invocation/") && r.Method == http.MethodPost:
		rest := strings.TrimPrefix(p, "invocation/")
		id, kind, _ := strings.Cut(rest, "/")
		a.mu.Lock()
		inv := a.pending[id]
		a.mu.Unlock()
		if inv == nil {
			http.Error(w, `{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
			return
		}
		switch kind {
		case "response":
			b, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			inv.done <- result{out: b}
		case "error":
			inv.done <- result{err: readError(r)}
		default:
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

func (a *RuntimeAPI) next(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	if a.firstNextAt.IsZero() {
		a.firstNextAt = time.Now()
		close(a.firstNext)
	}
	a.mu.Unlock()
	select {
	case inv := <-a.queue:
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", a.ARN)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(inv.payload)
	case <-a.closed:
		http.Error(w, "shutting down", http.StatusInternalServerError)
	case <-r.Context().Done():
	}
}

// readError decodes an error report; a body that is not one is kept as
// the message.
func readError(r *http.Request) *FunctionError {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var fe FunctionError
	if err := json.Unmarshal(b, &fe); err != nil || (fe.Type == "" && fe.Message == "") {
		fe = FunctionError{Type: r.Header.Get("Lambda-Runtime-Function-Error-Type"), Message: string(b)}
	}
	return &fe
}
