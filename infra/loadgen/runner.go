package loadgen

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxInFlight is the cap on outstanding requests when a Runner
// sets none. It is a safety net against exhausting the client's own
// sockets and memory, far above what a healthy run needs.
const DefaultMaxInFlight = 10000

// Clock is the Runner's source of time, replaceable so tests can inject
// lag and control what the Runner measures.
type Clock interface {
	Now() time.Time
	// SleepUntil returns at or after t, or early with ctx's error when ctx
	// is done first.
	SleepUntil(ctx context.Context, t time.Time) error
}

// SystemClock is the real clock, the default.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d := time.Until(t)
	if d <= 0 {
		// Behind schedule: fire now. The lag is measured, not hidden.
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Runner plays a Profile open loop: each arrival is fired at its
// scheduled time on a goroutine of its own, whether or not the requests
// before it have finished. Only MaxInFlight bounds it, and an arrival
// that would exceed the cap is counted as Dropped, never queued: queueing
// it would turn the client back into a closed loop and quietly lower the
// load offered exactly when the system under test is struggling.
type Runner struct {
	Profile Profile
	// Do makes request seq (0, 1, ...) and classifies the outcome. It is
	// called from many goroutines at once and must return when ctx is
	// done. Required.
	Do func(ctx context.Context, seq int) Result
	// MaxInFlight caps outstanding requests; zero means DefaultMaxInFlight.
	MaxInFlight int
	// Endpoint, when set, names the endpoint arrival seq targets. The
	// Runner then accounts every arrival to it, dropped ones included,
	// which it cannot do from Result.Endpoint since a dropped arrival has
	// no Result. When nil, or when it returns "", fired arrivals are
	// accounted to Result.Endpoint and dropped ones to "".
	Endpoint func(seq int) string
	// Clock defaults to SystemClock.
	Clock Clock
}

// Run plays the profile and returns the record of it. It stops firing
// when ctx is done, and returns once every fired request has returned.
func (r *Runner) Run(ctx context.Context) *Recorder {
	if r.Do == nil {
		panic("loadgen: Runner.Do is nil")
	}
	clock := r.Clock
	if clock == nil {
		clock = SystemClock
	}
	limit := r.MaxInFlight
	if limit <= 0 {
		limit = DefaultMaxInFlight
	}

	arrivals := r.Profile.Arrivals()
	rec := NewRecorder()
	rec.SetWindow(r.Profile.Duration())
	// A slot is taken without waiting and given back when the request
	// returns; a full channel means the cap is reached.
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup

	start := clock.Now()
	for seq, due := range arrivals {
		if err := clock.SleepUntil(ctx, start.Add(due)); err != nil {
			// Cancelled: rates are over the time actually run.
			rec.SetWindow(min(clock.Now().Sub(start), r.Profile.Duration()))
			break
		}
		planned := ""
		if r.Endpoint != nil {
			planned = r.Endpoint(seq)
		}
		select {
		case slots <- struct{}{}:
		default:
			rec.Record(Sample{Seq: seq, Endpoint: planned, Intended: due, Started: clock.Now().Sub(start), Dropped: true})
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			// Stamped here, not in the scheduler loop, so the actual start
			// includes the time the goroutine waited to be scheduled.
			started := clock.Now()
			res := r.Do(ctx, seq)
			ended := clock.Now()
			ep := planned
			if ep == "" {
				ep = res.Endpoint
			}
			rec.Record(Sample{
				Seq:      seq,
				Endpoint: ep,
				Intended: due,
				Started:  started.Sub(start),
				Ended:    ended.Sub(start),
				Result:   res,
			})
		}()
	}
	wg.Wait()
	return rec
}
