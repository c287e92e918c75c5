package sms

import (
	"context"
	"errors"
	"time"
)

// Priority orders the messages within the provider's rate: codes first,
// then the holders' notices; campaign and bulk notices (a later queue)
// behind both.
type Priority int

const (
	PriorityCode Priority = iota
	PriorityNotice
	PriorityBulk
)

func (p Priority) String() string {
	switch p {
	case PriorityCode:
		return "code"
	case PriorityNotice:
		return "notice"
	}
	return "bulk"
}

// Reserve is how many tokens a priority must leave in the bucket for those
// above it: none for codes, a third of the bucket for notices, two thirds
// for bulk. While codes take the whole rate the bucket stays near empty
// and the others wait; when codes are quiet it fills past the reserves and
// the others share what is left, so each gets the full rate when alone.
func (p Priority) Reserve(burst float64) float64 {
	return burst * float64(p) / 3
}

// Bucket is the provider's rate held over all sender instances together
// (dynamo.SMSBucket): Take takes up to want tokens, leaving reserve in it,
// and says how many it got; with none, wait is when one more will be
// there.
type Bucket interface {
	Take(ctx context.Context, want int, reserve float64) (got int, wait time.Duration, err error)
	Burst() float64
}

// Burst is the bucket size for a rate: a quarter second of it, at least 3
// (so each priority's reserve leaves a whole token to the next). Over any
// window of T seconds at most Burst + rate×T messages go out.
func Burst(rate float64) float64 { return max(3, rate/4) }

// errNoToken is a message that found no share of the rate in time.
var errNoToken = errors.New("no share of the provider's rate in time")

// tokens are the tokens one batch took and has not spent yet.
type tokens struct {
	b    Bucket
	prio Priority
	held int
	now  func() time.Time
}

// take one token for a message, taking up to want at once (the batch's
// messages still to send), waiting for the bucket until the deadline.
func (t *tokens) take(ctx context.Context, want int, deadline time.Time) error {
	if t.b == nil {
		return nil
	}
	for t.held == 0 {
		got, wait, err := t.b.Take(ctx, max(1, want), t.prio.Reserve(t.b.Burst()))
		if err != nil {
			return err
		}
		if got > 0 {
			t.held = got
			break
		}
		wait = max(wait, 5*time.Millisecond)
		if !t.now().Add(wait).Before(deadline) {
			return errNoToken
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
	}
	t.held--
	return nil
}
