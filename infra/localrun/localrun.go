// Package localrun runs the whole system in one process the way AWS would
// run template.yaml: it creates the template's tables, queues and buckets in
// a local stack (infra/localstack), builds each function once through the
// function registry, serves the template's HTTP API routes with real API
// Gateway payload-2.0 events, polls each SQS event source with Lambda's
// semantics and fires each schedule with EventBridge's scheduled event.
//
// Everything it builds is read from the template, never from a second list
// kept by hand; Inventory reports what was actually built so a test can hold
// it against the template. Beside the API it serves local-only helpers:
// GET /healthz, the bureau and carrier simulators under /_local/bureau/ and
// /_local/carrier/, the SMS outbox
// at GET /_local/sms and POST /_local/schedules/{LogicalId} to fire a
// schedule now. Everything else goes through the template's CloudFront
// distribution when it has one (edge.go): /v1/* to the API with the origin
// header, the rest from the site bucket, into which web/ beside the
// template is uploaded at start (site.go), every answer with the
// distribution's security headers.
package localrun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pccc/pccc/functions"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/samtemplate"
	"github.com/pccc/pccc/infra/sim"
	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/keyring"
	"github.com/pccc/pccc/shared/platform"
)

// DefaultNamePrefix starts the physical name of everything the runner
// creates: pccc-local-Table, pccc-local-CommandQueue, ...
const DefaultNamePrefix = "pccc-local-"

// ResidentsEnv names the JSON file of extra synthetic residents.
const ResidentsEnv = "PCCC_LOCAL_RESIDENTS"

// Options configure a Runner. TemplatePath and Stack are required.
type Options struct {
	TemplatePath string
	// Addr is the listen address, default 127.0.0.1:8080; "127.0.0.1:0"
	// picks a free port (URL tells which).
	Addr  string
	Stack *localstack.Stack
	// Registry maps a CodeUri folder name to its builder; default
	// functions.Registry. Tests inject their own functions here.
	Registry map[string]platform.Builder
	// Residents the bureau simulator knows; default sim.BuiltIn(). The
	// residents in the file named by PCCC_LOCAL_RESIDENTS are added.
	Residents []sim.Resident
	// FunctionLog receives the functions' JSON logs; default discarded.
	FunctionLog io.Writer
	// Log receives the runner's own JSON log lines (invocation failures,
	// poller errors, schedules fired); default discarded.
	Log io.Writer
	// Getenv reads the caller's environment (os.Getenv for `make run`).
	// Its non-empty values override the function environment the runner
	// builds from the template; see functionEnv for the precedence.
	Getenv func(string) string
	// Now is the clock functions and events see; default time.Now.
	Now func() time.Time
	// NamePrefix starts every physical name; default DefaultNamePrefix.
	// Runners sharing a stack (tests) need different prefixes.
	NamePrefix string
	// FunctionClients are the AWS clients the functions are built with;
	// default the runner's own. Fault injection (infra/faults) points them
	// at a proxy while the runner itself, like the Lambda service, talks to
	// the stack directly.
	FunctionClients *awsclient.Clients
	// DefaultPollers is how many pollers an SQS event source without
	// ScalingConfig.MaximumConcurrency gets; default 2.
	DefaultPollers int
	// MaxPollers caps every SQS event source's pollers, whatever its
	// MaximumConcurrency (0: no cap). For a stack that serialises writes,
	// such as DynamoDB Local's one SQLite database, batches beyond a couple
	// do no more work; they only make every other call wait behind them.
	MaxPollers int
	// NoPollers builds the SQS event sources but polls none of them, and
	// NoSchedules builds the schedules but fires none: two runners on one
	// stack and one NamePrefix, one serving the API and one polling the
	// queues, are one system split across processes, as AWS runs the API's
	// and the workers' functions on instances of their own (make bench).
	NoPollers, NoSchedules bool
	// KeyRings are rings the functions are given instead of fresh ones,
	// by kind: a test's session key to mint tokens with, or the same keys
	// for every process of one bench system. The rest are made fresh.
	KeyRings map[keyring.Kind]keyring.Ring
	// NoKeyRings writes no rings to the keys bucket: the functions' cold
	// starts then find none (a test that a function refuses to start
	// without its keys).
	NoKeyRings bool
	// SiteDirs are the folders uploaded into the site bucket, put
	// together; default web/ and build/site/ beside the template.
	SiteDirs []string

	// Invoke, when set, carries every invocation instead of the function
	// built in this process: the API's events, the pollers' batches and
	// the schedules' events all go to it, by the function's logical id,
	// with the function's timeout as ctx's deadline. The built-binary test
	// (infra/e2e) sends them to each function's own bootstrap under a
	// Runtime API. The functions are still built here first, so a
	// template the runner cannot serve fails New as before.
	Invoke func(ctx context.Context, logicalID string, payload []byte) ([]byte, error)
}

// Runner is a running local system. Close stops it.
type Runner struct {
	opts    Options
	tpl     *samtemplate.Template
	stack   *localstack.Stack
	clients *awsclient.Clients
	s3      *s3.Client
	log     *slog.Logger
	now     func() time.Time

	url    string
	ln     net.Listener
	srv    *http.Server
	sim    *sim.Sim
	bureau http.Handler
	outbox *sim.Outbox
	// edge is the template's distribution (edge.go), nil when it has
	// none; the site it serves is web/ beside the template, uploaded to
	// the site bucket at start (site.go).
	edge *edge
	// keys are the run's key rings (keys.go).
	keys devKeys
	// realFunctions: the registry is functions.Registry, whose functions
	// must use every key ring they are given.
	realFunctions bool

	names     names
	functions map[string]*function // by logical id
	routes    []*route
	cors      map[string]*corsPolicy // by API logical id ("" = implicit API)
	pollers   []*pollerGroup
	schedules map[string]*scheduled // by schedule logical id

	// bg is cancelled by Close: it stops the pollers and schedules.
	bg     context.Context
	stop   context.CancelFunc
	wg     sync.WaitGroup
	active atomic.Int32 // pollers and schedules still running

	closeOnce sync.Once
	closeErr  error
}

// New reads the template, creates its resources in the stack, builds every
// function, starts serving on Addr and starts the pollers and schedules. On
// error nothing is left running (resources created in the stack stay; the
// stack's Close removes them).
func New(ctx context.Context, o Options) (*Runner, error) {
	if o.Stack == nil {
		return nil, errors.New("localrun: Options.Stack is required")
	}
	if o.TemplatePath == "" {
		return nil, errors.New("localrun: Options.TemplatePath is required")
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:8080"
	}
	realFunctions := o.Registry == nil
	if o.Registry == nil {
		o.Registry = functions.Registry
	}
	if o.FunctionLog == nil {
		o.FunctionLog = io.Discard
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NamePrefix == "" {
		o.NamePrefix = DefaultNamePrefix
	}
	if o.DefaultPollers <= 0 {
		o.DefaultPollers = 2
	}

	tpl, err := samtemplate.Load(o.TemplatePath)
	if err != nil {
		return nil, fmt.Errorf("localrun: %w", err)
	}
	residents := o.Residents
	if residents == nil {
		residents = sim.BuiltIn()
	}
	if path := strings.TrimSpace(o.Getenv(ResidentsEnv)); path != "" {
		extra, err := sim.LoadResidents(path)
		if err != nil {
			return nil, fmt.Errorf("localrun: %s: %w", ResidentsEnv, err)
		}
		residents = append(append([]sim.Resident{}, residents...), extra...)
	}

	clients, err := o.Stack.Clients(ctx)
	if err != nil {
		return nil, fmt.Errorf("localrun: stack clients: %w", err)
	}
	s3c, err := o.Stack.S3(ctx)
	if err != nil {
		return nil, fmt.Errorf("localrun: stack S3 client: %w", err)
	}

	// Listen first: the functions' BUREAU_URL names the runner's own URL.
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("localrun: listen: %w", err)
	}
	simulator := sim.New(residents)
	r := &Runner{
		opts: o, tpl: tpl, stack: o.Stack, realFunctions: realFunctions, clients: clients, s3: s3c,
		log:       slog.New(slog.NewJSONHandler(o.Log, nil)).With("component", "localrun"),
		now:       o.Now,
		ln:        ln,
		url:       "http://" + ln.Addr().String(),
		sim:       simulator,
		bureau:    http.StripPrefix("/_local", simulator.Handler()),
		outbox:    &sim.Outbox{},
		functions: map[string]*function{},
		cors:      map[string]*corsPolicy{},
		schedules: map[string]*scheduled{},
	}
	r.names = names{prefix: o.NamePrefix, region: o.Stack.Region, tpl: tpl}
	r.bg, r.stop = context.WithCancel(context.Background())

	if err := r.setUp(ctx); err != nil {
		r.stop()
		_ = ln.Close()
		return nil, fmt.Errorf("localrun: %w", err)
	}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := r.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			r.log.Error("http server stopped", "err", err.Error())
		}
	}()
	if !o.NoPollers {
		r.startPollers()
	}
	if !o.NoSchedules {
		r.startSchedules()
	}
	return r, nil
}

func (r *Runner) setUp(ctx context.Context) error {
	if err := r.createTables(ctx); err != nil {
		return err
	}
	if err := r.createQueues(ctx); err != nil {
		return err
	}
	if err := r.createBuckets(ctx); err != nil {
		return err
	}
	secrets, err := newDevSecrets()
	if err != nil {
		return err
	}
	if err := r.buildEdge(secrets); err != nil {
		return err
	}
	if err := r.uploadSite(ctx); err != nil {
		return err
	}
	for _, f := range r.tpl.Functions {
		fn, err := r.buildFunction(ctx, f, secrets)
		if err != nil {
			return err
		}
		r.functions[f.LogicalID] = fn
	}
	if err := r.buildRoutes(); err != nil {
		return err
	}
	if err := r.buildPollers(); err != nil {
		return err
	}
	return r.buildSchedules()
}

// FunctionEnv is the environment the runner gives the function of that
// logical id (functionEnv: the template's, resolved against the local
// stack, with the runner's local settings), for a process of the function's
// own; false when the template has no such function.
func (r *Runner) FunctionEnv(logicalID string) (map[string]string, bool) {
	f, ok := r.functions[logicalID]
	if !ok {
		return nil, false
	}
	return maps.Clone(f.env), true
}

// URL is the base URL the runner serves, http://127.0.0.1:port.
func (r *Runner) URL() string { return r.url }

// Sim is the simulator behind /_local/bureau/, for tests that make the
// outside world misbehave.
func (r *Runner) Sim() *sim.Sim { return r.sim }

// Outbox is where the SMS sender's messages are kept for GET /_local/sms.
func (r *Runner) Outbox() *sim.Outbox { return r.outbox }

// Template is the parsed template the runner was built from.
func (r *Runner) Template() *samtemplate.Template { return r.tpl }

// Close stops serving (letting requests in flight finish), stops the pollers
// and schedules and waits for them, within ctx. It does not close the
// stack, which the caller owns.
func (r *Runner) Close(ctx context.Context) error {
	r.closeOnce.Do(func() {
		var errs []error
		if err := r.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err), r.srv.Close())
		}
		r.stop()
		done := make(chan struct{})
		go func() { r.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("pollers still running: %w", ctx.Err()))
		}
		r.closeErr = errors.Join(errs...)
	})
	return r.closeErr
}

// ServeHTTP dispatches the local-only paths and hands the rest to the API
// Gateway emulation. No http.ServeMux: it would clean and redirect paths
// that API Gateway passes to the function as they are.
func (r *Runner) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	switch {
	case p == "/healthz" && req.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	case strings.HasPrefix(p, "/_local/bureau/"), strings.HasPrefix(p, "/_local/carrier/"):
		r.bureau.ServeHTTP(w, req)
	case p == "/_local/sms" && req.Method == http.MethodGet:
		r.outbox.OutboxHandler().ServeHTTP(w, req)
	case p == "/_local/sms" && req.Method == http.MethodPost:
		r.acceptSMS(w, req)
	case strings.HasPrefix(p, "/_local/schedules/") && req.Method == http.MethodPost:
		r.triggerSchedule(w, req, strings.TrimPrefix(p, "/_local/schedules/"))
	case r.edge != nil:
		r.serveEdge(w, req)
	default:
		r.serveAPI(w, req)
	}
}

// acceptSMS is the local SMS provider: the sender Lambda posts {"to","text"}
// here and GET /_local/sms shows it.
func (r *Runner) acceptSMS(w http.ResponseWriter, req *http.Request) {
	var m struct{ To, Text string }
	if err := json.NewDecoder(io.LimitReader(req.Body, 1<<16)).Decode(&m); err != nil || m.To == "" {
		http.Error(w, `{"error":"bad message"}`, http.StatusBadRequest)
		return
	}
	r.outbox.Add(m.To, m.Text, r.now())
	w.WriteHeader(http.StatusAccepted)
}
