package admission

import (
	"context"
	"errors"
	"sync"
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
