package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a Clock whose time moves only when told: SleepUntil jumps
// to the time asked for plus lag, and sleeper, when set, runs first (to
// cancel, or to release requests at a chosen point in the schedule).
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	lag     time.Duration
	sleeper func(ctx context.Context, t time.Time) error
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	if c.sleeper != nil {
		if err := c.sleeper(ctx, t); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := t.Add(c.lag); w.After(c.now) {
		c.now = w
	}
	return nil
}

// sleepCtx waits d or until ctx is done, as a well-behaved Do must.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// The open-loop property: 50 requests a second for a second, each taking
// 200ms, all start within about a second of each other. A closed loop
// (or a serialised client) would need ten seconds. The margins are wide
// on purpose; what is asserted is "not serialised", not timing precision.
func TestRunnerIsOpenLoop(t *testing.T) {
	var (
		mu               sync.Mutex
		starts           []time.Time
		inFlight, peakIF atomic.Int64
	)
	r := &Runner{
		Profile: Profile{{Name: "steady", Duration: time.Second, StartRate: 50, EndRate: 50}},
		Do: func(ctx context.Context, seq int) Result {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			n := inFlight.Add(1)
			for {
				p := peakIF.Load()
				if n <= p || peakIF.CompareAndSwap(p, n) {
					break
				}
			}
			defer inFlight.Add(-1)
			if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
				return Result{Endpoint: "sleep", Err: err}
			}
			return Result{Endpoint: "sleep", Status: 200}
		},
	}
	begin := time.Now()
	rec := r.Run(context.Background())
	took := time.Since(begin)

	if len(starts) != 50 {
		t.Fatalf("%d requests started, want 50", len(starts))
	}
	var last time.Duration
	for _, s := range starts {
		last = max(last, s.Sub(begin))
	}
	if last > 4*time.Second {
		t.Errorf("last request started %v after the run began; serialised would be ~10s, open loop ~1s", last)
	}
	if took > 6*time.Second {
		t.Errorf("run took %v; open loop should take ~1.2s", took)
	}
	if p := peakIF.Load(); p < 4 {
		t.Errorf("at most %d requests in flight at once; open loop at 50/s × 200ms keeps ~10", p)
	}

	sum := rec.Summary()
	if len(sum) != 1 {
		t.Fatalf("summary %+v", sum)
	}
	s := sum[0]
	if s.Offered != 50 || s.Completed != 50 || s.ByStatus[200] != 50 || s.Dropped != 0 {
		t.Errorf("offered %d completed %d 200s %d dropped %d, want 50 50 50 0", s.Offered, s.Completed, s.ByStatus[200], s.Dropped)
	}
	if s.OfferedRate != 50 {
		t.Errorf("offered rate %v, want 50 (the window is the profile's second)", s.OfferedRate)
	}
	// Lower bounds only: a slow machine adds, never subtracts.
	if s.P50 < 195*time.Millisecond || s.Service.P50 < 195*time.Millisecond {
		t.Errorf("p50 %v, service p50 %v; each request sleeps 200ms", s.P50, s.Service.P50)
	}
	var offered int64
	for _, sec := range rec.Series() {
		offered += sec.Offered
	}
	if offered != 50 {
		t.Errorf("series offered %d, want 50", offered)
	}
}

// With an injected clock the timings are exact: the scheduler wakes lag
// late and Do takes 10ms, so latency from the intended start is lag+10ms
// while latency from the actual start is 10ms.
func TestRunnerMeasuresFromIntendedStart(t *testing.T) {
	for _, lag := range []time.Duration{0, 40 * time.Millisecond, 3 * time.Second} {
		t.Run(lag.String(), func(t *testing.T) {
			clock := newFakeClock()
			clock.lag = lag
			r := &Runner{
				// One arrival, due at 1s.
				Profile: Profile{{Duration: time.Second, StartRate: 1, EndRate: 1}},
				Clock:   clock,
				Do: func(ctx context.Context, seq int) Result {
					clock.Advance(10 * time.Millisecond)
					return Result{Endpoint: "x", Status: 200}
				},
			}
			s := r.Run(context.Background()).Summary()[0]
			if s.Max != lag+10*time.Millisecond || s.P50 != lag+10*time.Millisecond {
				t.Errorf("latency from intended start: p50 %v max %v, want %v", s.P50, s.Max, lag+10*time.Millisecond)
			}
			if s.Service.Max != 10*time.Millisecond {
				t.Errorf("latency from actual start %v, want 10ms", s.Service.Max)
			}
			if s.Lag.Max != lag {
				t.Errorf("lag %v, want %v", s.Lag.Max, lag)
			}
		})
	}
}

// The same on the real clock, with lower bounds only: a clock that makes
// every wake-up 30ms late pushes latency from the intended start at least
// 30ms above latency from the actual start.
func TestRunnerLagOnRealClock(t *testing.T) {
	r := &Runner{
		Profile: Profile{{Duration: 500 * time.Millisecond, StartRate: 20, EndRate: 20}},
		Clock:   lateClock{30 * time.Millisecond},
		Do: func(ctx context.Context, seq int) Result {
			if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
				return Result{Err: err}
			}
			return Result{Endpoint: "x", Status: 204}
		},
	}
	s := r.Run(context.Background()).Summary()[0]
	if s.Completed != 10 {
		t.Fatalf("%d completed, want 10", s.Completed)
	}
	if s.Lag.P50 < 29*time.Millisecond {
		t.Errorf("lag p50 %v, want >= 30ms", s.Lag.P50)
	}
	if s.Service.P50 < 4900*time.Microsecond {
		t.Errorf("service p50 %v, want >= 5ms", s.Service.P50)
	}
	// Per request, intended latency = lag + service >= service + 30ms, so
	// the same holds for every quantile (less the histograms' 0.4%).
	if s.P50 < s.Service.P50+27*time.Millisecond || s.Max < s.Service.Max+27*time.Millisecond {
		t.Errorf("latency from intended p50 %v max %v, from actual p50 %v max %v: the 30ms lag is missing",
			s.P50, s.Max, s.Service.P50, s.Service.Max)
	}
}

type lateClock struct{ late time.Duration }

func (lateClock) Now() time.Time { return time.Now() }
func (c lateClock) SleepUntil(ctx context.Context, t time.Time) error {
	return SystemClock.SleepUntil(ctx, t.Add(c.late))
}

// Arrivals beyond MaxInFlight are dropped and counted, not delayed. The
// fake clock lets the whole schedule be offered while the first requests
// are still blocked, then cancels the run at a sentinel arrival, so the
// outcome is exact: 3 sent, 17 dropped.
func TestRunnerDropsBeyondMaxInFlight(t *testing.T) {
	release := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := newFakeClock()
	start := clock.Now()
	clock.sleeper = func(ctx context.Context, t time.Time) error {
		if t.Sub(start) > 5*time.Second { // the sentinel: all 20 have been offered
			close(release)
			cancel()
			return ctx.Err()
		}
		return nil
	}
	var started atomic.Int64
	r := &Runner{
		Profile: Profile{
			{Name: "burst", Duration: 100 * time.Millisecond, StartRate: 200, EndRate: 200}, // 20 arrivals
			{Name: "sentinel", Duration: 10 * time.Second, StartRate: 0.1, EndRate: 0.1},    // 1, at 10.1s
		},
		MaxInFlight: 3,
		Clock:       clock,
		Endpoint: func(seq int) string {
			if seq%2 == 0 {
				return "even"
			}
			return "odd"
		},
		Do: func(ctx context.Context, seq int) Result {
			started.Add(1)
			<-release
			return Result{Status: 200}
		},
	}
	rec := r.Run(ctx)
	if started.Load() != 3 {
		t.Errorf("Do called %d times, want 3", started.Load())
	}
	tot := rec.Total()
	if tot.Offered != 20 || tot.Completed != 3 || tot.Dropped != 17 {
		t.Errorf("offered %d completed %d dropped %d, want 20 3 17", tot.Offered, tot.Completed, tot.Dropped)
	}
	// The first three (seq 0, 1, 2) went out; drops are accounted to the
	// planned endpoint even though they never produced a Result.
	sum := rec.Summary()
	if len(sum) != 2 || sum[0].Endpoint != "even" || sum[0].Offered != 10 || sum[0].Completed != 2 || sum[0].Dropped != 8 ||
		sum[1].Endpoint != "odd" || sum[1].Offered != 10 || sum[1].Completed != 1 || sum[1].Dropped != 9 {
		t.Errorf("summary %+v", sum)
	}
	// Cancelled while waiting for the sentinel, with the fake clock still
	// at the last burst arrival (100ms): rates are over the time run.
	if tot.OfferedRate < 199.9 || tot.OfferedRate > 200.1 {
		t.Errorf("offered rate %v over a run cancelled at 100ms, want 200", tot.OfferedRate)
	}
}

// A cancelled context fires nothing and returns at once.
func TestRunnerCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var called atomic.Bool
	r := &Runner{
		Profile: Profile{{Duration: time.Hour, StartRate: 100, EndRate: 100}},
		Do: func(ctx context.Context, seq int) Result {
			called.Store(true)
			return Result{}
		},
	}
	done := make(chan *Recorder)
	go func() { done <- r.Run(ctx) }()
	select {
	case rec := <-done:
		if called.Load() || rec.Total().Offered != 0 {
			t.Error("a cancelled run fired requests")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

// Many short requests at a high rate on the real clock, for the race
// detector: every arrival is accounted for once.
func TestRunnerConcurrentAccounting(t *testing.T) {
	var calls atomic.Int64
	r := &Runner{
		Profile:     Profile{{Duration: 300 * time.Millisecond, StartRate: 1000, EndRate: 2000}},
		MaxInFlight: 50,
		Do: func(ctx context.Context, seq int) Result {
			calls.Add(1)
			time.Sleep(time.Duration(seq%5) * time.Millisecond)
			ep := "a"
			if seq%3 == 0 {
				ep = "b"
			}
			return Result{Endpoint: ep, Status: 200 + 300*(seq%2)}
		},
	}
	rec := r.Run(context.Background())
	tot := rec.Total()
	if tot.Offered != 450 {
		t.Errorf("offered %d, want 450", tot.Offered)
	}
	if tot.Completed+tot.Dropped != tot.Offered || tot.Completed != calls.Load() {
		t.Errorf("completed %d + dropped %d != offered %d (Do called %d times)", tot.Completed, tot.Dropped, tot.Offered, calls.Load())
	}
}
