package admission

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

type depth struct {
	mu    sync.Mutex
	n     int
	err   error
	reads int
}

func (d *depth) Depth(context.Context) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reads++
	return d.n, d.err
}

func (d *depth) set(n int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n, d.err = n, err
}

func (d *depth) readCount() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.reads
}

// settle waits for a background depth read to land.
func settle(t *testing.T, d *depth, reads int) {
	t.Helper()
	for i := 0; i < 1000 && d.readCount() < reads; i++ {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Millisecond)
}

func TestAdmitByBacklog(t *testing.T) {
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	d := &depth{n: 998}
	g := &Gate{Depth: d, DrainRate: 100, MaxWait: 10 * time.Second, Now: func() time.Time { return clock }}
	pos, err := g.Admit(context.Background())
	if err != nil || pos != 999 {
		t.Fatalf("998 waiting at 100/s: %d %v", pos, err)
	}
	// Cached for a second: no second read; what was admitted since counts.
	d.set(5000, nil)
	if pos, err := g.Admit(context.Background()); err != nil || d.readCount() != 1 || pos != 1000 {
		t.Fatalf("within the cache: position %d, reads %d, %v", pos, d.readCount(), err)
	}
	// Stale: the next call goes on with the old figure and starts a read
	// in the background; the call after it sees the new figure.
	clock = clock.Add(time.Second)
	_, _ = g.Admit(context.Background())
	settle(t, d, 2)
	_, err = g.Admit(context.Background())
	e := apperr.As(err)
	if e.Code != apperr.Overloaded || e.RetryAfter < 39*time.Second || e.RetryAfter > 41*time.Second {
		t.Fatalf("5000 waiting (50 s, 40 s over): %v retry %v", err, e.RetryAfter)
	}
	// A failed first read admits.
	d2 := &depth{err: errors.New("sqs down")}
	g2 := &Gate{Depth: d2, DrainRate: 100, MaxWait: 10 * time.Second, Now: func() time.Time { return clock }}
	if pos, err := g2.Admit(context.Background()); err != nil || pos != 1 {
		t.Fatalf("unknown depth: %d %v", pos, err)
	}
}

func TestAdmitByLatency(t *testing.T) {
	g := &Gate{DrainRate: 100, MaxLatency: 100 * time.Millisecond}
	for range 20 {
		g.Observe(20 * time.Millisecond)
	}
	if _, err := g.Admit(context.Background()); err != nil {
		t.Fatalf("fast: %v", err)
	}
	for range 40 {
		g.Observe(time.Second)
	}
	if _, err := g.Admit(context.Background()); apperr.CodeOf(err) != apperr.Overloaded {
		t.Fatalf("slow: %v", err)
	}
	// Shedding decays the average, so the gate reopens without traffic.
	opened := false
	for range 100 {
		if _, err := g.Admit(context.Background()); err == nil {
			opened = true
			break
		}
	}
	if !opened {
		t.Fatal("the gate never reopened")
	}
}

func TestWaitAndPosition(t *testing.T) {
	if w := Wait(300, 100); w != 3*time.Second {
		t.Errorf("Wait = %v", w)
	}
	if w := Wait(300, 0); w != 0 {
		t.Errorf("Wait without a rate = %v", w)
	}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		after time.Duration
		want  int
	}{{0, 500}, {time.Second, 400}, {4 * time.Second, 100}, {time.Hour, 1}} {
		if got := Position(500, t0, t0.Add(tc.after), 100); got != tc.want {
			t.Errorf("after %v: %d, want %d", tc.after, got, tc.want)
		}
	}
}

// leases is the shared counter, as dynamo.Limiter.Lease keeps it.
type leases struct {
	mu     sync.Mutex
	now    func() time.Time
	counts map[int64]int
	calls  int
	err    error
	// hold, when set, keeps every lease waiting until it is closed;
	// entered says one has arrived.
	hold    chan struct{}
	entered chan struct{}
}

func (l *leases) Lease(_ context.Context, _ string, n, limit int, window time.Duration) (bool, int, error) {
	if l.hold != nil {
		l.entered <- struct{}{}
		<-l.hold
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if l.err != nil {
		return false, 0, l.err
	}
	w := window.Milliseconds()
	start := l.now().UnixMilli() / w * w
	if l.counts[start] >= limit {
		return false, limit, nil
	}
	l.counts[start] += n
	return true, l.counts[start], nil
}

func TestAdmitByRate(t *testing.T) {
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	store := &leases{now: now, counts: map[int64]int{}}
	// Two instances sharing 400 commands a second: 100 per 250 ms window.
	a := &Gate{Leases: store, MaxRate: 400, Now: now}
	b := &Gate{Leases: store, MaxRate: 400, Now: now}
	window := func() (admitted int, refused []error) {
		for i := range 150 {
			g := a
			if i%2 == 1 {
				g = b
			}
			if _, err := g.Admit(context.Background()); err != nil {
				refused = append(refused, err)
			} else {
				admitted++
			}
		}
		return
	}
	admitted, refused := window()
	if admitted != 100 {
		t.Fatalf("first window: %d admitted, want exactly 100", admitted)
	}
	for _, err := range refused {
		if e := apperr.As(err); e.Code != apperr.Overloaded || e.RetryAfter != time.Second {
			t.Fatalf("refusal %v (retry %v), want OVERLOADED with Retry-After 1s", err, e.RetryAfter)
		}
	}
	// Each instance learns the window's count from its leases: the one
	// that finds the budget spent tells nobody else, but the other sees
	// the count at the limit and refuses without asking.
	if store.calls != 101 {
		t.Fatalf("%d leases in the first window, want 100 + one refused", store.calls)
	}
	// The next window: each instance took 50 in the last, so it leases
	// 12 at a time: a few writes, the budget kept within a lease of 100.
	clock = clock.Add(250 * time.Millisecond)
	store.calls = 0
	admitted, _ = window()
	if admitted < 100 || admitted > 100+2*11 {
		t.Fatalf("second window: %d admitted", admitted)
	}
	if store.calls > 12 {
		t.Fatalf("%d leases for %d commands", store.calls, admitted)
	}
	// A counter that cannot be reached admits.
	clock = clock.Add(250 * time.Millisecond)
	store.err = errors.New("dynamodb down")
	if _, err := a.Admit(context.Background()); err != nil {
		t.Fatalf("unreachable counter: %v", err)
	}
	// Off without a rate.
	off := &Gate{Leases: store, Now: now}
	store.calls = 0
	if _, err := off.Admit(context.Background()); err != nil || store.calls != 0 {
		t.Fatalf("no MaxRate: %v, %d leases", err, store.calls)
	}
}

// While the lease that would spend the window's budget is in flight, a
// command is refused at once: it neither waits for it nor asks again.
func TestAdmitByRateRefusesWithoutWaiting(t *testing.T) {
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	store := &leases{now: now, counts: map[int64]int{}, entered: make(chan struct{}, 100)}
	g := &Gate{Leases: store, MaxRate: 8, Now: now} // 2 per window
	if _, err := g.Admit(context.Background()); err != nil {
		t.Fatal(err)
	}
	store.hold = make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, err := g.Admit(context.Background())
		done <- err
	}()
	<-store.entered // the second command's lease is in flight
	if _, err := g.Admit(context.Background()); apperr.CodeOf(err) != apperr.Overloaded {
		t.Fatalf("third command with the last lease in flight: %v", err)
	}
	close(store.hold)
	if err := <-done; err != nil {
		t.Fatalf("the leased command: %v", err)
	}
	if store.calls != 2 {
		t.Fatalf("%d leases, want 2", store.calls)
	}
}

// Commands arriving together at one instance share its leases: one in
// flight at a time, the next sized for those waiting.
func TestAdmitByRateSharesLeases(t *testing.T) {
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	store := &leases{now: now, counts: map[int64]int{}, hold: make(chan struct{}), entered: make(chan struct{}, 100)}
	g := &Gate{Leases: store, MaxRate: 4000, Now: now} // 1000 per window, leases of up to 125
	var wg sync.WaitGroup
	var refused atomic.Int64
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := g.Admit(context.Background()); err != nil {
				refused.Add(1)
			}
		}()
	}
	<-store.entered
	waitingFor(t, g, 19) // the other 19 reach the gate and wait
	close(store.hold)
	wg.Wait()
	if refused.Load() != 0 || store.calls != 2 {
		t.Fatalf("%d refused, %d leases; want 0 refused and 2 leases (1, then 19 for those waiting)", refused.Load(), store.calls)
	}
}

// No more calls wait for a lease than the budget left could take: the
// next one is refused at once.
func TestAdmitByRateBoundsTheWait(t *testing.T) {
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	store := &leases{now: now, counts: map[int64]int{}, hold: make(chan struct{}), entered: make(chan struct{}, 100)}
	g := &Gate{Leases: store, MaxRate: 8, Now: now} // 2 per window
	done := make(chan error, 2)
	admit := func() {
		_, err := g.Admit(context.Background())
		done <- err
	}
	go admit()
	<-store.entered // the first lease, of 1, is in flight
	go admit()
	waitingFor(t, g, 1) // the second waits for it: one left after it
	if _, err := g.Admit(context.Background()); apperr.CodeOf(err) != apperr.Overloaded {
		t.Fatalf("a third, with the budget spoken for: %v", err)
	}
	close(store.hold)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("the first two: %v", err)
		}
	}
}

// waitingFor waits until n calls wait for the gate's lease in flight.
func waitingFor(t *testing.T, g *Gate, n int) {
	t.Helper()
	for range 2000 {
		g.mu.Lock()
		w := g.waiting
		g.mu.Unlock()
		if w == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d calls never came to wait", n)
}
