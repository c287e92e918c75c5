// Package testkit holds the small helpers many packages' tests share: a
// goroutine-safe buffer for captured logs, a settable clock and the API
// Gateway event fixtures. Test code only; nothing in production imports it.
package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/limits"
)

// Event loads an API Gateway HTTP API (payload 2.0) event from the
// calling package's testdata folder.
func Event(t testing.TB, name string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// Buffer is a bytes.Buffer safe for concurrent writers (loggers, emulator
// output pumps).
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Clock is a clock that moves only when told to.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now reads the clock; pass c.Now where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Counters is an in-memory keeper of bounds with the counting rules of
// shared/limits (what dynamo.Limiter does in the table), on a clock, for
// unit tests of the code that counts. Calls lists the bounds' names in
// call order, Fail makes the next call fail.
type Counters struct {
	mu     sync.Mutex
	Now    func() time.Time
	counts map[string]int64
	Calls  []string
	Fail   error
}

// NewCounters returns empty counters on now.
func NewCounters(now func() time.Time) *Counters {
	return &Counters{Now: now, counts: map[string]int64{}}
}

func (c *Counters) slots(b limits.Bound) (cur, prev string, now time.Time) {
	now = c.Now()
	s, p := b.Window.Slots(now)
	return b.Key + "#" + s.ID, b.Key + "#" + p.ID, now
}

func (c *Counters) prev(b limits.Bound, key string) int64 {
	if b.Window.IsDay() {
		return 0
	}
	return c.counts[key]
}

func (c *Counters) call(op string, b limits.Bound) error {
	c.Calls = append(c.Calls, op+" "+b.Name)
	if err := c.Fail; err != nil {
		c.Fail = nil
		return err
	}
	return nil
}

// Hit counts one event, refused or not.
func (c *Counters) Hit(_ context.Context, b limits.Bound) (bool, time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.call("hit", b); err != nil {
		return false, 0, err
	}
	cur, prev, now := c.slots(b)
	ok := b.Window.Room(now, c.counts[cur], c.prev(b, prev), b.Limit)
	c.counts[cur]++
	if ok {
		return true, 0, nil
	}
	return false, b.Window.Wait(now, c.counts[cur], c.prev(b, prev), b.Limit), nil
}

// Take counts one event if it fits.
func (c *Counters) Take(_ context.Context, b limits.Bound) (limits.Taken, bool, time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.call("take", b); err != nil {
		return limits.Taken{}, false, 0, err
	}
	cur, prev, now := c.slots(b)
	if !b.Window.Room(now, c.counts[cur], c.prev(b, prev), b.Limit) {
		return limits.Taken{}, false, b.Window.Wait(now, c.counts[cur], c.prev(b, prev), b.Limit), nil
	}
	c.counts[cur]++
	return limits.Taken{Key: cur, Count: c.counts[cur]}, true, 0, nil
}

// Give gives a taken event back.
func (c *Counters) Give(_ context.Context, t limits.Taken) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Calls = append(c.Calls, "give")
	if c.counts[t.Key] > 0 {
		c.counts[t.Key]--
	}
	return nil
}

// Peek says the wait until one more event fits.
func (c *Counters) Peek(_ context.Context, b limits.Bound) (time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.call("peek", b); err != nil {
		return 0, err
	}
	cur, prev, now := c.slots(b)
	return b.Window.Wait(now, c.counts[cur], c.prev(b, prev), b.Limit), nil
}

// Count is the current slot's count of the bound.
func (c *Counters) Count(b limits.Bound) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur, _, _ := c.slots(b)
	return c.counts[cur]
}

// RepoRoot is the repository's root: the nearest directory at or above
// the working directory holding go.mod (a test runs in its package's
// directory, a command wherever it was started inside the repository).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// Root is RepoRoot for a test, which it fails when there is none.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}
