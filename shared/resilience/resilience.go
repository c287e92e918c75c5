// Package resilience owns the two ways we keep a slow or dead dependency
// from taking us down with it (DOMAIN.md, "The surge"): a circuit Breaker
// that refuses quickly, with a time to retry, once a dependency keeps
// failing, and Retry, a bounded retry with full-jitter backoff so that
// retries from many callers do not arrive in lockstep.
package resilience

import (
	"sync"
	"time"
)

// State is a breaker's state.
type State int

const (
	Closed   State = iota // calls flow; consecutive failures are counted
	Open                  // calls are refused until the cooldown ends
	HalfOpen              // one trial call decides whether to close again
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	default:
		return "half-open"
	}
}

// Breaker is a consecutive-failure circuit breaker, safe for concurrent use.
// Each caller asks Allow before calling the dependency and, when allowed,
// reports the outcome with Record.
type Breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu       sync.Mutex
	state    State
	failures int
	openedAt time.Time
	trialAt  time.Time // when the half-open trial was handed out
	trial    bool      // a half-open trial is in flight
}

// NewBreaker returns a closed breaker that opens after threshold consecutive
// failures and lets one trial call through cooldown later. now is the clock
// (nil: time.Now), injectable for tests.
func NewBreaker(threshold int, cooldown time.Duration, now func() time.Time) *Breaker {
	if threshold < 1 {
		threshold = 1
	}
	if now == nil {
		now = time.Now
	}
	return &Breaker{threshold: threshold, cooldown: cooldown, now: now}
}

// Allow reports whether a call may go ahead; when not, retryAfter is how long
// until the breaker will consider another call.
func (b *Breaker) Allow() (ok bool, retryAfter time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	switch b.state {
	case Open:
		if wait := b.openedAt.Add(b.cooldown).Sub(now); wait > 0 {
			return false, wait
		}
		b.state = HalfOpen
		b.trial = true
		b.trialAt = now
		return true, 0
	case HalfOpen:
		// A trial whose caller never reported (a cancelled request) must not
		// wedge the breaker: after a cooldown another trial is allowed.
		if !b.trial || now.Sub(b.trialAt) >= b.cooldown {
			b.trial = true
			b.trialAt = now
			return true, 0
		}
		return false, max(b.trialAt.Add(b.cooldown).Sub(now), time.Second)
	default:
		return true, 0
	}
}

// Record reports the outcome of a call that Allow let through.
func (b *Breaker) Record(success bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state {
	case Closed:
		if success {
			b.failures = 0
			return
		}
		b.failures++
		if b.failures >= b.threshold {
			b.open()
		}
	case HalfOpen:
		b.trial = false
		if success {
			b.state = Closed
			b.failures = 0
			return
		}
		b.open()
	case Open:
		// Late outcomes of calls allowed before the breaker opened change
		// nothing: only the half-open trial may close it.
	}
}

func (b *Breaker) open() {
	b.state = Open
	b.openedAt = b.now()
	b.trial = false
}

// State returns the current state, for metrics and tests. An open breaker
// whose cooldown has passed still reports Open until the next Allow.
func (b *Breaker) State() State {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// RetryAfter is how long until an open breaker lets a trial through; 0 when
// it is not open.
func (b *Breaker) RetryAfter() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state != Open {
		return 0
	}
	return max(b.openedAt.Add(b.cooldown).Sub(b.now()), 0)
}
