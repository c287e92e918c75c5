package resilience

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/testkit"
)

func TestBreakerLifecycle(t *testing.T) {
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	b := NewBreaker(3, 10*time.Second, clock.Now)

	// step is one action on the breaker and what must follow from it.
	type step struct {
		name      string
		advance   time.Duration
		record    *bool // record this outcome instead of asking Allow
		wantOK    bool
		wantAfter time.Duration
		wantState State
	}
	yes, no := true, false
	steps := []step{
		{name: "closed allows", wantOK: true, wantState: Closed},
		{name: "failure 1", record: &no, wantState: Closed},
		{name: "failure 2", record: &no, wantState: Closed},
		{name: "success resets the count", record: &yes, wantState: Closed},
		{name: "failure 1 again", record: &no, wantState: Closed},
		{name: "failure 2 again", record: &no, wantState: Closed},
		{name: "failure 3 opens", record: &no, wantState: Open},
		{name: "open refuses with the cooldown", wantOK: false, wantAfter: 10 * time.Second, wantState: Open},
		{name: "open refuses with what is left", advance: 4 * time.Second, wantOK: false, wantAfter: 6 * time.Second, wantState: Open},
		{name: "after cooldown one trial", advance: 6 * time.Second, wantOK: true, wantState: HalfOpen},
		{name: "second caller waits for the trial", wantOK: false, wantAfter: 10 * time.Second, wantState: HalfOpen},
		{name: "failed trial reopens", record: &no, wantState: Open},
		{name: "reopened refuses", advance: time.Second, wantOK: false, wantAfter: 9 * time.Second, wantState: Open},
		{name: "next trial", advance: 9 * time.Second, wantOK: true, wantState: HalfOpen},
		{name: "successful trial closes", record: &yes, wantState: Closed},
		{name: "closed again", wantOK: true, wantState: Closed},
		{name: "one failure does not open", record: &no, wantState: Closed},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		if s.record != nil {
			b.Record(*s.record)
		} else {
			ok, after := b.Allow()
			if ok != s.wantOK || after != s.wantAfter {
				t.Fatalf("%s: Allow() = %v, %v; want %v, %v", s.name, ok, after, s.wantOK, s.wantAfter)
			}
		}
		if got := b.State(); got != s.wantState {
			t.Fatalf("%s: state %s, want %s", s.name, got, s.wantState)
		}
	}
}

func TestBreakerAbandonedTrialDoesNotWedge(t *testing.T) {
	clock := testkit.NewClock(time.Unix(0, 0))
	b := NewBreaker(1, 5*time.Second, clock.Now)
	b.Record(false)
	clock.Advance(5 * time.Second)
	if ok, _ := b.Allow(); !ok {
		t.Fatal("trial refused")
	}
	// The trial's caller never records. One cooldown later another trial goes.
	clock.Advance(4 * time.Second)
	if ok, _ := b.Allow(); ok {
		t.Fatal("second trial allowed while the first may still be running")
	}
	clock.Advance(time.Second)
	if ok, _ := b.Allow(); !ok {
		t.Fatal("abandoned trial wedged the breaker")
	}
}

func TestBreakerConcurrentHalfOpenAllowsOneTrial(t *testing.T) {
	clock := testkit.NewClock(time.Unix(0, 0))
	b := NewBreaker(1, time.Second, clock.Now)
	b.Record(false)
	clock.Advance(time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _ := b.Allow(); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 1 {
		t.Fatalf("%d trials allowed, want 1", allowed)
	}
}

func TestRetry(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		attempts  int
		results   []error // nil = success; errFatal = not retryable
		fatal     int     // index of a non-retryable failure, -1 none
		wantCalls int
		wantErr   error
		wantSleep []time.Duration // ceilings handed to the jitter
	}{
		{"first try succeeds", 3, []error{nil}, -1, 1, nil, nil},
		{"succeeds on third", 3, []error{errBoom, errBoom, nil}, -1, 3, nil, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{"gives up after attempts", 3, []error{errBoom, errBoom, errBoom, nil}, -1, 3, errBoom, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}},
		{"backoff capped at max", 5, []error{errBoom, errBoom, errBoom, errBoom, errBoom}, -1, 5, errBoom,
			[]time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond, 300 * time.Millisecond}},
		{"non-retryable stops", 3, []error{errBoom, nil}, 0, 1, errBoom, nil},
		{"zero attempts means one", 0, []error{errBoom}, -1, 1, errBoom, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			var ceilings []time.Duration
			err := retry(context.Background(), tt.attempts, 100*time.Millisecond, 300*time.Millisecond,
				func(context.Context) (bool, error) {
					i := calls
					calls++
					return i != tt.fatal, tt.results[i]
				},
				func(context.Context, time.Duration) error { return nil },
				func(c time.Duration) time.Duration { ceilings = append(ceilings, c); return c / 2 })
			if calls != tt.wantCalls || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("calls %d err %v; want %d %v", calls, err, tt.wantCalls, tt.wantErr)
			}
			if len(ceilings) != len(tt.wantSleep) {
				t.Fatalf("ceilings %v, want %v", ceilings, tt.wantSleep)
			}
			for i := range ceilings {
				if ceilings[i] != tt.wantSleep[i] {
					t.Fatalf("ceilings %v, want %v", ceilings, tt.wantSleep)
				}
			}
		})
	}
}

func TestRetryHonoursDeadline(t *testing.T) {
	errBoom := errors.New("boom")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	calls := 0
	start := time.Now()
	// Backoffs of a full second cannot fit in the deadline: retry must give
	// up at once instead of sleeping through it. (The jitter is pinned to
	// its ceiling: full jitter may draw a few milliseconds, which fit.)
	err := retry(ctx, 5, time.Second, time.Second, func(context.Context) (bool, error) { calls++; return true, errBoom },
		sleepCtx, func(d time.Duration) time.Duration { return d })
	if !errors.Is(err, errBoom) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if calls > 1 || time.Since(start) > 40*time.Millisecond {
		t.Fatalf("calls %d after %v", calls, time.Since(start))
	}

	// A context that ends during a sleep stops the retries.
	ctx2, cancel2 := context.WithCancel(context.Background())
	calls = 0
	err = retry(ctx2, 5, time.Millisecond, time.Millisecond, func(context.Context) (bool, error) { calls++; return true, errBoom },
		func(ctx context.Context, _ time.Duration) error { cancel2(); return ctx.Err() },
		func(c time.Duration) time.Duration { return c })
	if calls != 1 || !errors.Is(err, context.Canceled) || !errors.Is(err, errBoom) {
		t.Fatalf("calls %d err %v", calls, err)
	}
}

func TestFullJitterStaysBelowCeiling(t *testing.T) {
	for range 1000 {
		if d := fullJitter(10 * time.Millisecond); d < 0 || d >= 10*time.Millisecond {
			t.Fatalf("jitter %v out of range", d)
		}
	}
	if fullJitter(0) != 0 {
		t.Fatal("zero ceiling")
	}
}
