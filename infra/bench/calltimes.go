package bench

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// CallTimes records how long the SDK calls of the functions in this
// process (the API's) took, by service and operation, while a run asks for
// it: where an accept's tail waits (DynamoDB Local's writer, fauxqs's one
// thread, or neither) is read from them, not guessed.
type CallTimes struct {
	on atomic.Bool
	mu sync.Mutex
	by map[string][]time.Duration
	mw middleware.InitializeMiddleware // made once: stacks are built per call
}

// CallTime is one operation's calls during a run.
type CallTime struct {
	Op            string // "DynamoDB PutItem"
	Calls         int
	P50, P99, Max time.Duration
}

// apiCalls times the in-process functions' calls (their clients are built
// with its middleware in startSystem).
var apiCalls = newCallTimes()

// newCallTimes is a timer, not recording yet.
func newCallTimes() *CallTimes {
	c := &CallTimes{by: map[string][]time.Duration{}}
	c.mw = middleware.InitializeMiddlewareFunc("pcccBenchCallTimes", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if !c.on.Load() {
			return next.HandleInitialize(ctx, in)
		}
		start := time.Now()
		out, md, err := next.HandleInitialize(ctx, in)
		d := time.Since(start)
		op := awsmiddleware.GetServiceID(ctx) + " " + awsmiddleware.GetOperationName(ctx)
		c.mu.Lock()
		c.by[op] = append(c.by[op], d)
		c.mu.Unlock()
		return out, md, err
	})
	return c
}

// Middleware adds the timer to an SDK client's stack: at the end of the
// initialize step, so that it covers the retries, the signing and the
// round trip, and the operation's name is already known. The SDK builds
// a stack for every call; the middleware is the one made once.
func (c *CallTimes) Middleware(s *middleware.Stack) error {
	return s.Initialize.Add(c.mw, middleware.After)
}

// Start forgets what was recorded and records from now on.
func (c *CallTimes) Start() {
	c.mu.Lock()
	c.by = map[string][]time.Duration{}
	c.mu.Unlock()
	c.on.Store(true)
}

// Stop ends the recording and summarises it, by operation name.
func (c *CallTimes) Stop() []CallTime {
	c.on.Store(false)
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]CallTime, 0, len(c.by))
	for op, ds := range c.by {
		out = append(out, CallTime{Op: op, Calls: len(ds), P50: Percentile(ds, 0.50), P99: Percentile(ds, 0.99), Max: Percentile(ds, 1)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Op < out[j].Op })
	c.by = map[string][]time.Duration{}
	return out
}
