package sms

import (
	"context"
	"log/slog"
	"time"

	"github.com/pccc/pccc/shared/stats"
)

// Counter adds to the statistics' counters on their own, outside any other
// write (dynamo.StatsCounter); a write that fails keeps none of the others
// from being made, and the error says which failed.
type Counter interface {
	Add(ctx context.Context, adds ...stats.Add) error
}

// Counts adds the SMS figures of shared/stats (codes sent, codes dropped
// as too late, notices sent, SMS parts) for each Fact, in the statistics'
// shards. A send changes no item of ours (the provider's call is the
// event, and what is billed), so the count is its own write, right after
// the send: a message sent twice by a redelivery is counted, and billed,
// twice; a count that fails is logged, not retried (the SMS went out).
type Counts struct {
	Counter Counter
	Now     func() time.Time
	Log     *slog.Logger
}

var (
	_ FactRecorder  = (*Counts)(nil)
	_ BatchRecorder = (*Counts)(nil)
)

// Adds are the additions a fact makes (none for failures, duplicates,
// deferrals and drops: nothing was sent or billed).
func Adds(f Fact, at time.Time) []stats.Add {
	var adds []stats.Add
	switch {
	case f.Outcome == OutcomeSent && f.Kind == PriorityCode:
		adds = append(adds, stats.Add{At: at, Kind: stats.SMSCodesSent, N: 1})
	case f.Outcome == OutcomeSent:
		adds = append(adds, stats.Add{At: at, Kind: stats.SMSNoticesSent, N: 1})
	case f.Outcome == OutcomeLate:
		adds = append(adds, stats.Add{At: at, Kind: stats.SMSCodesDroppedLate, N: 1})
	}
	if f.Outcome == OutcomeSent && f.Parts > 0 {
		adds = append(adds, stats.Add{At: at, Kind: stats.SMSParts, N: int64(f.Parts)})
	}
	return adds
}

// Record implements FactRecorder.
func (c *Counts) Record(ctx context.Context, f Fact) {
	adds := Adds(f, c.Now())
	if len(adds) == 0 {
		return
	}
	if err := c.Counter.Add(ctx, adds...); err != nil {
		c.Log.WarnContext(ctx, "sms count lost", "kind", f.Kind.String(), "outcome", f.Outcome, "err", err.Error())
	}
}

// RecordAll counts a batch's facts in one write a Korean day (the batch's
// sends, at the provider's rate, would otherwise each cost one).
func (c *Counts) RecordAll(ctx context.Context, facts []Fact) {
	at := c.Now()
	var adds []stats.Add
	for _, f := range facts {
		adds = append(adds, Adds(f, at)...)
	}
	if len(adds) == 0 {
		return
	}
	if err := c.Counter.Add(ctx, adds...); err != nil {
		c.Log.WarnContext(ctx, "sms counts lost", "facts", len(facts), "err", err.Error())
	}
}
