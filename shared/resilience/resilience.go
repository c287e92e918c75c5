// Package resilience keeps a slow or dead outside service (the credit
// bureau, a carrier) from dragging the API down with it: bounded retries
// with jittered backoff, and a circuit breaker that turns a dead service
// into an immediate "try again in N seconds" instead of a hang.
package resilience

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Breaker opens after Threshold consecutive failures, refuses calls for
// Cooldown, then lets one trial call through (half-open): its success closes
// the breaker, its failure opens it again.
type Breaker struct {
	Threshold int
	Cooldown  time.Duration
	Now       func() time.Time

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	trialOut  bool
}

// NewBreaker returns a closed breaker.
func NewBreaker(threshold int, cooldown time.Duration) *Breaker {
	return &Breaker{Threshold: threshold, Cooldown: cooldown, Now: time.Now}
}

// Allow says whether a call may go out now; when not, how long until one may.
func (b *Breaker) Allow() (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.Threshold {
		return true, 0
	}
	now := b.Now()
	if now.Before(b.openUntil) {
		return false, b.openUntil.Sub(now)
	}
	if b.trialOut {
		// One trial at a time while half-open.
		return false, b.Cooldown
	}
	b.trialOut = true
	return true, 0
}

// Record reports the outcome of a call that Allow let through.
func (b *Breaker) Record(success bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.trialOut = false
	if success {
		b.failures = 0
		return
	}
	b.failures++
	if b.failures >= b.Threshold {
		b.openUntil = b.Now().Add(b.Cooldown)
	}
}

// Retry calls fn up to attempts times while it reports a retryable error,
// sleeping a random time up to min(max, base*2^n) between tries (full
// jitter, so a crowd of clients does not retry in step). It stops early when
// ctx ends and returns fn's last error.
func Retry(ctx context.Context, attempts int, base, max time.Duration, fn func(context.Context) (retryable bool, err error)) error {
	var err error
	for i := 0; i < attempts; i++ {
		var retryable bool
		retryable, err = fn(ctx)
		if err == nil || !retryable || i == attempts-1 {
			return err
		}
		backoff := base << i
		if backoff > max || backoff <= 0 {
			backoff = max
		}
		sleep := time.Duration(rand.Int64N(int64(backoff) + 1))
		t := time.NewTimer(sleep)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
	return err
}
