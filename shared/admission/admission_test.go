package admission

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/testkit"
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

// newClock is the rate tests' clock (leases in the background read it).
func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) }

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

func newLeases(now func() time.Time) *leases {
	return &leases{now: now, counts: map[int64]int{}, entered: make(chan struct{}, 1000)}
}

func (l *leases) Lease(_ context.Context, _ string, n, limit int, window time.Duration) (bool, int, error) {
	l.mu.Lock()
	hold := l.hold
	l.mu.Unlock()
	if hold != nil {
		l.entered <- struct{}{}
		<-hold
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

func (l *leases) holdAll() chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hold = make(chan struct{})
	return l.hold
}

func (l *leases) callCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls
}

func (l *leases) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = 0
}

func (l *leases) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
}

// idle waits until no lease of g is in flight.
func idle(t *testing.T, g *Gate) {
	t.Helper()
	until(t, g, "a lease never ended", func() bool { return g.flight == nil })
}

// until waits, up to two seconds, for cond to hold of g (under g.mu).
func until(t *testing.T, g *Gate, failure string, cond func() bool) {
	t.Helper()
	for range 2000 {
		g.mu.Lock()
		ok := cond()
		g.mu.Unlock()
		if ok {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal(failure)
}

func TestAdmitByRate(t *testing.T) {
	c := newClock()
	store := newLeases(c.Now)
	// Two instances sharing 400 commands a second: 100 per 250 ms window.
	a := &Gate{Leases: store, MaxRate: 400, Now: c.Now, LeaseWait: time.Minute}
	b := &Gate{Leases: store, MaxRate: 400, Now: c.Now, LeaseWait: time.Minute}
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
		idle(t, a)
		idle(t, b)
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
	// New instances know nothing of each other: about a lease per
	// command, and once one finds the budget spent, neither asks again.
	if n := store.callCount(); n < 100 || n > 104 {
		t.Fatalf("%d leases in the first window, want 100 and the few that found it spent", n)
	}
	// The next window: each instance took 50 in the last, so it leases
	// 12 at a time, ahead of need: a few writes, the budget kept within a
	// lease of 100 (the counter grants a lease while under the limit).
	c.Advance(250 * time.Millisecond)
	store.reset()
	admitted, _ = window()
	if admitted < 100 || admitted > 100+2*11 {
		t.Fatalf("second window: %d admitted", admitted)
	}
	if n := store.callCount(); n > 14 {
		t.Fatalf("%d leases for %d commands", n, admitted)
	}
	// A counter that cannot be reached admits.
	c.Advance(250 * time.Millisecond)
	store.fail(errors.New("dynamodb down"))
	for range 3 {
		if _, err := a.Admit(context.Background()); err != nil {
			t.Fatalf("unreachable counter: %v", err)
		}
	}
	// Off without a rate.
	off := &Gate{Leases: store, Now: c.Now}
	idle(t, a)
	store.reset()
	if _, err := off.Admit(context.Background()); err != nil || store.callCount() != 0 {
		t.Fatalf("no MaxRate: %v, %d leases", err, store.callCount())
	}
}

// Once what an instance leased, ahead of need, spends the window's
// budget, a command is refused at once: it neither waits nor asks again.
func TestAdmitByRateRefusesWithoutAsking(t *testing.T) {
	c := newClock()
	store := newLeases(c.Now)
	g := &Gate{Leases: store, MaxRate: 8, Now: c.Now, LeaseWait: time.Minute} // 2 per window
	if _, err := g.Admit(context.Background()); err != nil {
		t.Fatal(err)
	}
	idle(t, g) // the second of the window is leased ahead
	if _, err := g.Admit(context.Background()); err != nil {
		t.Fatalf("the second, leased ahead: %v", err)
	}
	began := time.Now()
	if _, err := g.Admit(context.Background()); apperr.CodeOf(err) != apperr.Overloaded {
		t.Fatalf("the third: %v", err)
	}
	if took := time.Since(began); took > 100*time.Millisecond {
		t.Fatalf("the refusal took %v", took)
	}
	idle(t, g)
	if n := store.callCount(); n != 2 {
		t.Fatalf("%d leases, want 2", n)
	}
}

// Commands arriving together at one instance share its leases: one in
// flight at a time, the next sized for those waiting.
func TestAdmitByRateSharesLeases(t *testing.T) {
	c := newClock()
	store := newLeases(c.Now)
	release := store.holdAll()
	g := &Gate{Leases: store, MaxRate: 4000, Now: c.Now, LeaseWait: time.Minute} // 1000 per window, leases of up to 125
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
	waitingFor(t, g, 20) // all 20 reach the gate and wait for the one lease
	close(release)
	wg.Wait()
	idle(t, g)
	if refused.Load() != 0 || store.callCount() > 3 {
		t.Fatalf("%d refused, %d leases; want 0 refused and at most 3 leases (1, then the rest for those waiting, then one ahead)", refused.Load(), store.callCount())
	}
}

// No more calls wait for a lease than the budget left could take: the
// next one is refused at once.
func TestAdmitByRateBoundsTheWait(t *testing.T) {
	c := newClock()
	store := newLeases(c.Now)
	release := store.holdAll()
	g := &Gate{Leases: store, MaxRate: 8, Now: c.Now, LeaseWait: time.Minute} // 2 per window
	done := make(chan error, 2)
	admit := func() {
		_, err := g.Admit(context.Background())
		done <- err
	}
	go admit()
	<-store.entered // the first lease, of 1, is in flight
	go admit()
	waitingFor(t, g, 2) // the second waits for it too: one left after it
	if _, err := g.Admit(context.Background()); apperr.CodeOf(err) != apperr.Overloaded {
		t.Fatalf("a third, with the budget spoken for: %v", err)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("the first two: %v", err)
		}
	}
}

// A counter slow to answer does not hold commands while the budget is
// being spent: past LeaseWait they are refused, and what the lease brings
// when it lands serves the next ones without another call. A cold
// instance, with nothing spent, waits for its lease.
func TestAdmitByRateLeaseWait(t *testing.T) {
	c := newClock()
	store := newLeases(c.Now)
	g := &Gate{Leases: store, MaxRate: 8, Now: c.Now, LeaseWait: 30 * time.Millisecond} // 2 per window
	release := store.holdAll()
	time.AfterFunc(80*time.Millisecond, func() { close(release) })
	if _, err := g.Admit(context.Background()); err != nil {
		t.Fatalf("a cold instance with a slow counter: %v", err)
	}
	// Spend the window.
	idle(t, g)
	for range 3 {
		_, _ = g.Admit(context.Background())
	}
	idle(t, g)
	// The next window, the counter slow again.
	c.Advance(250 * time.Millisecond)
	release = store.holdAll()
	store.reset()
	began := time.Now()
	_, err := g.Admit(context.Background())
	if apperr.CodeOf(err) != apperr.Overloaded {
		t.Fatalf("with the budget being spent and the lease held: %v", err)
	}
	if took := time.Since(began); took < 30*time.Millisecond || took > time.Second {
		t.Fatalf("refused after %v, want about LeaseWait", took)
	}
	close(release)
	idle(t, g)
	if n := store.callCount(); n != 1 {
		t.Fatalf("%d leases, want the one that landed late", n)
	}
	// Its command is taken at once (and the next lease goes out ahead).
	defer close(store.holdAll())
	began = time.Now()
	if _, err := g.Admit(context.Background()); err != nil {
		t.Fatalf("after the lease landed: %v", err)
	}
	if took := time.Since(began); took >= 30*time.Millisecond {
		t.Fatalf("the leased command waited %v", took)
	}
}

// After a window whose budget was spent, an instance leases about half of
// what reached it then, so a busy instance asks the counter a couple of
// times a window, not once every few commands.
func TestAdmitByRateLeasesForDemand(t *testing.T) {
	c := newClock()
	store := newLeases(c.Now)
	g := &Gate{Leases: store, MaxRate: 400, Now: c.Now, LeaseWait: time.Minute} // 100 per window
	run := func() (admitted int) {
		for range 300 {
			if _, err := g.Admit(context.Background()); err == nil {
				admitted++
			}
		}
		idle(t, g)
		return admitted
	}
	if n := run(); n != 100 {
		t.Fatalf("first window: %d admitted", n)
	}
	c.Advance(250 * time.Millisecond)
	store.reset()
	if n := run(); n != 100 {
		t.Fatalf("second window: %d admitted", n)
	}
	if n := store.callCount(); n > 2 {
		t.Fatalf("%d leases for a window's budget after a spent one, want 1 or 2", n)
	}
}

// waitingFor waits until n calls wait for the gate's lease in flight.
func waitingFor(t *testing.T, g *Gate, n int) {
	t.Helper()
	until(t, g, fmt.Sprintf("%d calls never came to wait", n), func() bool { return g.waiting == n })
}

// A window after one whose budget was not spent opens on credit: its first
// commands are taken at once while the lease goes out, and a counter that
// refuses the lease ends the credit.
func TestAdmitByRateOpensOnCredit(t *testing.T) {
	c := newClock()
	store := newLeases(c.Now)
	g := &Gate{Leases: store, MaxRate: 400, Now: c.Now, LeaseWait: time.Minute} // 100 per window
	for range 40 {
		if _, err := g.Admit(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	idle(t, g)
	c.Advance(250 * time.Millisecond)
	release := store.holdAll()
	began := time.Now()
	for range 5 {
		if _, err := g.Admit(context.Background()); err != nil {
			t.Fatalf("on credit: %v", err)
		}
	}
	if took := time.Since(began); took > 500*time.Millisecond {
		t.Fatalf("commands on credit waited %v for the counter", took)
	}
	<-store.entered // the credit's lease is out
	// The counter refuses it: another instance spent the window.
	store.mu.Lock()
	store.counts[c.Now().UnixMilli()/250*250] = 100
	store.mu.Unlock()
	close(release)
	idle(t, g)
	if _, err := g.Admit(context.Background()); apperr.CodeOf(err) != apperr.Overloaded {
		t.Fatalf("after the counter refused the credit's lease: %v", err)
	}
}

// A cold instance whose counter does not answer within coldLeaseWait takes
// the command, as when the counter cannot be reached.
func TestAdmitByRateColdCounterAdmits(t *testing.T) {
	c := newClock()
	store := newLeases(c.Now)
	release := store.holdAll()
	defer close(release)
	g := &Gate{Leases: store, MaxRate: 400, Now: c.Now}
	began := time.Now()
	if _, err := g.Admit(context.Background()); err != nil {
		t.Fatalf("a cold instance, its counter silent: %v", err)
	}
	if took := time.Since(began); took < coldLeaseWait {
		t.Fatalf("taken after %v, before coldLeaseWait", took)
	}
}

// slowDepth answers a read only once let go.
type slowDepth struct {
	n       int
	started chan struct{}
	release chan struct{}
}

func (d *slowDepth) Depth(ctx context.Context) (int, error) {
	d.started <- struct{}{}
	<-d.release
	return d.n, nil
}

// TestAdmitByBacklogCountsDuringARead: commands admitted while a depth read
// is under way may reach the queue after the read looked, so the new figure
// does not replace them (they were forgotten: a slow machine took a fifth
// command over the bound).
func TestAdmitByBacklogCountsDuringARead(t *testing.T) {
	clock := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	d := &slowDepth{started: make(chan struct{}, 1), release: make(chan struct{})}
	g := &Gate{Depth: d, DrainRate: 1, MaxWait: 4 * time.Second, Now: func() time.Time { return clock }}
	close(d.release) // the first read answers at once: nothing waits
	if pos, err := g.Admit(context.Background()); err != nil || pos != 1 {
		t.Fatalf("first: %d %v", pos, err)
	}
	<-d.started
	d.n, d.release = 1, make(chan struct{})
	// Stale: this call starts a read that stays under way while two more
	// are admitted; the read then says 1 (only the first reached the queue).
	clock = clock.Add(time.Second)
	for i, want := range []int{2, 3, 4} {
		if pos, err := g.Admit(context.Background()); err != nil || pos != want {
			t.Fatalf("command %d: %d %v", i+2, pos, err)
		}
		if i == 0 {
			<-d.started
		}
	}
	close(d.release)
	for i := 0; i < 1000; i++ {
		g.mu.Lock()
		done := !g.reading
		g.mu.Unlock()
		if done {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// In line: 1 read + 3 admitted since the read began = 4, a 4 s wait;
	// the fifth would wait 5 s.
	_, err := g.Admit(context.Background())
	if e := apperr.As(err); e == nil || e.Code != apperr.Overloaded {
		t.Fatalf("the fifth: %v, want OVERLOADED", err)
	}
}
