package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/functions"
	"github.com/pccc/pccc/infra/faults"
	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/campaignapi"
	"github.com/pccc/pccc/shared/keyring"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/session"
	"github.com/pccc/pccc/shared/sqsqueue"
)

// Table and queue names the runner gives the template's resources.
const (
	TableName   = localrun.DefaultNamePrefix + "Table"
	CommandName = localrun.DefaultNamePrefix + "CommandQueue"
	DLQName     = localrun.DefaultNamePrefix + "CommandDLQ"
)

// System is the whole system running in this process for a bench run.
type System struct {
	Stack   *localstack.Stack
	Runner  *localrun.Runner
	Clients *awsclient.Clients
	URL     string
	HTTP    *http.Client
	issuer  *session.Issuer
	// paused holds the workers while closed is false (see PauseWorkers).
	pause *gate
	// Faults are the proxies in front of the functions' DynamoDB and SQS,
	// when the system was started with Faults.
	DynamoDBFaults, SQSFaults *faults.Proxy
	// Kills counts worker invocations killed after their write;
	// Redelivered the campaign items delivered twice (Faults).
	Kills       *atomic.Int64
	Redelivered *atomic.Int64
	closers     []func() error
	closeOnce   sync.Once
	runOpts     localrun.Options // how the runner was built, for Redeploy
	// workers is the worker process, when the queue functions run in one
	// (WorkerProcess; never under faults).
	workers *workerProcess
}

// Faults makes a system misbehave: the functions' DynamoDB and SQS go
// through fault proxies at Rates, and every KillEvery-th worker batch is
// killed after its write, before its delete (0: never).
type Faults struct {
	Rates     faults.Rates
	KillEvery int64
	// ReaderKills are the campaign reader's chunk sends (counted from 1,
	// over the run) after which it is killed, before it saves its place;
	// ReaderChunk the lines of its chunks (0: campaignapi.ChunkLines). The
	// campaign workers are killed like the command worker (KillEvery).
	ReaderKills []int64
	ReaderChunk int64
}

// gate blocks callers while closed.
type gate struct {
	mu     sync.Mutex
	closed bool
	cond   *sync.Cond
}

func newGate() *gate {
	g := &gate{}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *gate) wait() {
	g.mu.Lock()
	for g.closed {
		g.cond.Wait()
	}
	g.mu.Unlock()
}

func (g *gate) set(closed bool) {
	g.mu.Lock()
	g.closed = closed
	g.mu.Unlock()
	g.cond.Broadcast()
}

// PauseWorkers holds every worker invocation until ResumeWorkers, so the
// accept path can be measured alone. (Batches under way end; the pollers
// hold what they receive next.)
func (s *System) PauseWorkers() error {
	if s.workers != nil {
		return s.workers.say("pause")
	}
	s.pause.set(true)
	return nil
}

// ResumeWorkers lets the workers go.
func (s *System) ResumeWorkers() error {
	if s.workers != nil {
		return s.workers.say("resume")
	}
	s.pause.set(false)
	return nil
}

// workerRegistry is the functions with the worker held by pause and, with
// f, killed after every f.KillEvery-th batch's write (counted in kills).
func workerRegistry(pause *gate, f *Faults, kills, redelivered *atomic.Int64) map[string]platform.Builder {
	var batches atomic.Int64
	reg := functions.WithWorker(func(real functions.Worker) functions.Worker {
		return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			pause.wait()
			resp, err := real(ctx, ev)
			if f != nil && f.KillEvery > 0 && batches.Add(1)%f.KillEvery == 0 {
				kills.Add(1)
				panic("worker killed after its write, before the delete")
			}
			return resp, err
		}
	})
	if f != nil {
		addCampaignKills(reg, f, kills, redelivered)
	}
	return reg
}

// addCampaignKills wraps the campaign reader and workers of reg to be
// killed as f says (counted in kills), and delivers f.Rates.Duplicate of
// the campaign items twice, the copy to a second worker at the same time,
// as SQS may (counted in redelivered).
func addCampaignKills(reg map[string]platform.Builder, f *Faults, kills, redelivered *atomic.Int64) {
	sends := &atomic.Int64{}
	reg["campaignreader"] = func(ctx context.Context, d platform.Deps) (any, error) {
		r, err := campaignapi.NewReader(d)
		if err != nil {
			return nil, err
		}
		r.Items = &killingSender{Sender: r.Items, sends: sends, at: f.ReaderKills, kills: kills}
		r.Chunk = f.ReaderChunk
		return r.Handle, nil
	}
	var batches atomic.Int64
	build := reg["campaignworker"]
	reg["campaignworker"] = func(ctx context.Context, d platform.Deps) (any, error) {
		h, err := build(ctx, d)
		if err != nil {
			return nil, err
		}
		real, ok := h.(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error))
		if !ok {
			return nil, fmt.Errorf("campaignworker: handler is %T", h)
		}
		return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			var twice events.SQSEvent
			for _, m := range ev.Records {
				if rand.Float64() < f.Rates.Duplicate {
					twice.Records = append(twice.Records, m)
				}
			}
			var copies sync.WaitGroup
			if len(twice.Records) > 0 {
				redelivered.Add(int64(len(twice.Records)))
				copies.Add(1)
				go func() {
					defer copies.Done()
					_, _ = real(ctx, twice)
				}()
			}
			resp, err := real(ctx, ev)
			copies.Wait()
			if f.KillEvery > 0 && batches.Add(1)%f.KillEvery == 0 {
				kills.Add(1)
				panic("campaign worker killed after its writes, before the delete")
			}
			return resp, err
		}, nil
	}
}

// killingSender is the reader's item queue, killing the reader after the
// chunk sends named in at: the chunk is queued, its place not saved, so
// the redelivered reader queues it again.
type killingSender struct {
	campaignapi.Sender
	sends, kills *atomic.Int64
	at           []int64
}

func (k *killingSender) Send(ctx context.Context, bodies []string, delay time.Duration) error {
	if err := k.Sender.Send(ctx, bodies, delay); err != nil {
		return err
	}
	if slices.Contains(k.at, k.sends.Add(1)) {
		k.kills.Add(1)
		panic("campaign reader killed after a chunk's send, before its place was saved")
	}
	return nil
}

// sessionKey lets the bench mint holders' session tokens: the runs are
// about codes, not identity (the verification steps have their own tests).
var sessionKey = []byte(strings.Repeat("b", 32))

// EmulatorNice is the niceness the emulators run at (localstack.Options.Nice):
// in AWS, DynamoDB and SQS run on their own machines, so here they give
// way to the load generator and the functions. 0 runs them as they are.
var EmulatorNice = 10

// WorkerBatches caps the concurrent batches of every queue's function
// (localrun's MaxPollers; template.yaml allows the worker 10). DynamoDB
// Local writes through one SQLite database, one write at a time: a second
// concurrent batch of transactions adds at most a tenth to the drain
// (86-100/s with one batch, 96-99/s with two on this machine), and the
// accept path's put and read queue behind it: on 2 shared cores the
// spike's accept p99 was 31-32 ms at peaks of 147-187/s with one batch,
// 47-57 ms at 118-192/s with two. In AWS the workers run
// on their own instances against a table sized for them, and template.yaml
// sizes their concurrency to that. 0 runs what the template says.
var WorkerBatches = 1

// FunctionLog, when set, receives the functions' and the runner's JSON log
// lines (pccc-bench -log), to find what a run's refusals were.
var FunctionLog io.Writer

// Start runs the system on a stack of the given kind with extra settings.
func Start(ctx context.Context, templatePath string, kind localstack.Kind, env map[string]string) (*System, error) {
	return StartWith(ctx, templatePath, kind, env, nil)
}

// StartWith is Start with faults injected (nil: none).
func StartWith(ctx context.Context, templatePath string, kind localstack.Kind, env map[string]string, f *Faults) (*System, error) {
	return startSystem(ctx, templatePath, kind, env, f, nil)
}

// startSystem is StartWith with the residents the bureau and carrier
// simulators know (nil: the built-in ones).
func startSystem(ctx context.Context, templatePath string, kind localstack.Kind, env map[string]string, f *Faults, residents []sim.Resident) (*System, error) {
	stack, err := localstack.Start(ctx, kind, localstack.Options{Nice: EmulatorNice})
	if err != nil {
		return nil, err
	}
	all := withBase(env)
	kills := &atomic.Int64{}
	sys := &System{Stack: stack, pause: newGate(), Kills: kills, Redelivered: &atomic.Int64{}}
	// The functions' clients time their calls for the spike runs
	// (calltimes.go); through the fault proxies when there are faults.
	timed := []func(*middleware.Stack) error{apiCalls.Middleware}
	fnOpts := awsclient.Options{Region: stack.Region, DynamoDBEndpoint: stack.DynamoDBEndpoint, SQSEndpoint: stack.SQSEndpoint, S3Endpoint: stack.S3Endpoint, KMSEndpoint: stack.KMSEndpoint,
		DynamoDBAPIOptions: timed, SQSAPIOptions: timed}
	if f != nil {
		sys.DynamoDBFaults = faults.New(stack.DynamoDBEndpoint, f.Rates, 1)
		sys.SQSFaults = faults.New(stack.SQSEndpoint, f.Rates, 2)
		d, stopD, err := sys.DynamoDBFaults.Start()
		if err != nil {
			_ = stack.Close()
			return nil, err
		}
		q, stopQ, err := sys.SQSFaults.Start()
		if err != nil {
			_ = stopD()
			_ = stack.Close()
			return nil, err
		}
		sys.closers = append(sys.closers, stopD, stopQ)
		fnOpts.DynamoDBEndpoint, fnOpts.SQSEndpoint = d, q
	}
	fnClients, err := awsclient.New(ctx, fnOpts)
	if err != nil {
		_ = stack.Close()
		return nil, err
	}
	sys.runOpts = localrun.Options{
		TemplatePath: templatePath, Addr: "127.0.0.1:0", Stack: stack, Registry: workerRegistry(sys.pause, f, kills, sys.Redelivered), FunctionClients: fnClients,
		MaxPollers: WorkerBatches, Residents: residents, FunctionLog: FunctionLog, Log: FunctionLog, KeyRings: benchRings,
		// The workers poll from a process of their own (workerproc.go).
		NoPollers: f == nil && WorkerProcess,
	}
	if f != nil {
		// Under faults the run is about consistency, not latency: the
		// template's concurrency, with its interleavings (and capped, the
		// faults' delays made the run take half an hour).
		sys.runOpts.MaxPollers = 0
	}
	opts := sys.runOpts
	opts.Getenv = func(k string) string { return all[k] }
	run, err := localrun.New(ctx, opts)
	if err != nil {
		_ = stack.Close()
		return nil, err
	}
	c, err := stack.Clients(ctx)
	if err != nil {
		return nil, err
	}
	iss, err := session.New(map[string][]byte{"b1": sessionKey}, "b1", time.Hour, time.Now)
	if err != nil {
		return nil, err
	}
	sys.Runner, sys.Clients, sys.URL, sys.issuer = run, c, run.URL(), iss
	if sys.runOpts.NoPollers {
		if sys.workers, err = startWorkerProcess(ctx, sys.workerSpec(all)); err != nil {
			sys.Close()
			return nil, err
		}
	}
	sys.HTTP = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1024}}
	return sys, nil
}

// benchRings are this process's key rings, given to every bench system
// and its worker processes: functions redeployed on the same table open
// what the first ones sealed, as in AWS, where a deploy keeps its keys;
// the session ring is sessionKey, so the bench can mint tokens.
var benchRings = map[keyring.Kind]keyring.Ring{
	keyring.Session: {Active: "b1", Keys: map[string][]byte{"b1": sessionKey}},
	keyring.Data:    keyring.NewRing("bd1"),
	keyring.HMAC:    keyring.NewRing("bh1"),
	keyring.Origin:  keyring.NewRing("bo1"),
}

// withBase is env over the settings every bench system has.
func withBase(env map[string]string) map[string]string {
	all := map[string]string{
		"SESSION_TTL": "1h",
		"LOG_LEVEL":   "error",
	}
	if FunctionLog != nil {
		// What -log is for: the refusals and failures, which are warnings.
		all["LOG_LEVEL"] = "warn"
	}
	maps.Copy(all, env)
	return all
}

// Redeploy replaces the functions with ones built with env, on the same
// stack, as deploying new settings does in AWS: the table, the queues and
// the emulators (warmed up) stay; the functions start cold.
func (s *System) Redeploy(ctx context.Context, env map[string]string) error {
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if s.workers != nil {
		err := s.workers.stop()
		s.workers = nil
		if err != nil {
			return err
		}
	}
	if err := s.Runner.Close(cctx); err != nil {
		return err
	}
	all := withBase(env)
	opts := s.runOpts
	opts.Getenv = func(k string) string { return all[k] }
	run, err := localrun.New(ctx, opts)
	if err != nil {
		return err
	}
	s.Runner, s.URL = run, run.URL()
	if opts.NoPollers {
		if s.workers, err = startWorkerProcess(ctx, s.workerSpec(all)); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the runner, the fault proxies and the stack; once.
func (s *System) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if s.workers != nil {
			_ = s.workers.stop()
		}
		if s.Runner != nil {
			_ = s.Runner.Close(ctx)
		}
		for _, c := range s.closers {
			_ = c()
		}
		_ = s.Stack.Close()
	})
}

// workerSpec is what the worker process needs to join this system.
func (s *System) workerSpec(env map[string]string) workerSpec {
	return workerSpec{Template: s.runOpts.TemplatePath, Stack: s.Stack, Env: env, MaxPollers: s.runOpts.MaxPollers, KeyRings: benchRings}
}

// Token mints a session token for a holder key.
func (s *System) Token(hk string) string {
	tok, _, err := s.issuer.Issue(hk, "bench")
	if err != nil {
		panic(err)
	}
	return tok
}

// Answer is an HTTP answer.
type Answer struct {
	Status     int
	RetryAfter string
	Body       map[string]any
	Replayed   bool // answered from the Idempotency-Key's first answer
}

// Call makes one API call.
func (s *System) Call(ctx context.Context, method, path, token, key, body string) (Answer, error) {
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	return s.send(ctx, method, path, auth, key, body)
}

// send makes one API call with an Authorization value (none when empty)
// and an Idempotency-Key (none when empty).
func (s *System) send(ctx context.Context, method, path, auth, key, body string) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, strings.NewReader(body))
	if err != nil {
		return Answer{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := s.HTTP.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := Answer{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
	_ = json.Unmarshal(raw, &a.Body)
	return a, nil
}

// expect makes one API call and checks its status: the ceilings' load
// generator, which shares the process whose processor time it measures,
// so it reads the answer's body only to report an unexpected status.
func (s *System) expect(ctx context.Context, method, path, token, key, body string, want int) error {
	return callExpect(ctx, s.HTTP, method, s.URL+path, token, key, body, want)
}

// callExpect is expect to any URL.
func callExpect(ctx context.Context, hc *http.Client, method, url, token, key, body string, want int) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("status %d %s", resp.StatusCode, raw)
	}
	// Read to the end, so the connection is reused.
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// directCall calls one route for each of toks the way the Lambda
// runtime calls a function: the event API Gateway would send, built once
// per token by the runner (Runner.APIEvent: the distribution's headers,
// the route, the event) around a stand-in Idempotency-Key, and per call
// only the key put in; then the function invoked with it in this process
// and the status read from its answer. In AWS the HTTP server in front
// of a function and the event it is handed are API Gateway's, not the
// function's, so this is the path's own cost without the stand-ins' and
// the loopback hop's. keyed: each call with a key of its own.
func (s *System) directCall(method, path, body string, toks []string, keyed bool, want int) (func(ctx context.Context, tok int, key string) error, error) {
	const stand = "bench-key-stand-in-7f3a9c"
	type parts struct{ before, after []byte }
	events := make([]parts, len(toks))
	var fn string
	for i, tok := range toks {
		var rd io.Reader = http.NoBody
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, s.URL+path, rd)
		if err != nil {
			return nil, err
		}
		req.RemoteAddr, req.RequestURI = "127.0.0.1:49152", path
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if keyed {
			req.Header.Set("Idempotency-Key", stand)
		}
		f, payload, err := s.Runner.APIEvent(req)
		if err != nil {
			return nil, err
		}
		fn = f
		if !keyed {
			events[i] = parts{before: payload}
			continue
		}
		before, after, ok := bytes.Cut(payload, []byte(stand))
		if !ok || bytes.Contains(after, []byte(stand)) {
			return nil, fmt.Errorf("the stand-in key is not once in the event of %s %s", method, path)
		}
		events[i] = parts{before, after}
	}
	prefix := []byte(`{"statusCode":` + strconv.Itoa(want) + `,`)
	return func(ctx context.Context, tok int, key string) error {
		e := events[tok%len(events)]
		payload := e.before
		if keyed {
			payload = make([]byte, 0, len(e.before)+len(key)+len(e.after))
			payload = append(append(append(payload, e.before...), key...), e.after...)
		}
		out, err := s.Runner.Invoke(ctx, fn, payload)
		if err != nil {
			return err
		}
		if !bytes.HasPrefix(out, prefix) {
			return fmt.Errorf("answer %.300s", out)
		}
		return nil
	}, nil
}

// QueueURL finds a queue.
func (s *System) QueueURL(ctx context.Context, name string) (string, error) {
	out, err := s.Clients.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueueUrl), nil
}

// Depth is the command queue's backlog: visible and in flight.
func (s *System) Depth(ctx context.Context, url string) (int, error) {
	// The same reading admission control makes.
	return (&sqsqueue.Depth{SQS: s.Clients.SQS, QueueURL: url}).Depth(ctx)
}

// IssueBody is a valid issue body with synthetic details.
func IssueBody(i int) string {
	return fmt.Sprintf(`{"englishName":"BENCH PERSON","koreanName":"벤치","nationality":"KR","addresses":[{"zip":"%05d","address":"Bench-ro %d"}],"phone":"010%08d","consent":true}`, i%100000, i, i%100000000)
}
