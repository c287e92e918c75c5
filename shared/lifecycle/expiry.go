package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/stats"
)

// Due lists the holders due on a day, with their status, from the expiry
// index (the code store, shared/dynamo).
type Due interface {
	DueOn(ctx context.Context, day string) ([]holder.Due, error)
}

// Expirer is the daily job. It does not change codes itself: it queues an
// expire (or, after the renewal window, a lapse) command per holder due,
// so a day on which a surge's codes all expire at once is absorbed by the
// queue and carried out by the worker under the same rules and
// transactions as every other change.
type Expirer struct {
	Index Due
	Queue Queue
	Now   func() time.Time
	// Lookback is how many past days are read again, so a missed run or a
	// failed send is caught up the next day; default 7.
	Lookback int
	// Parallel sends; default 16.
	Parallel int
	Log      *slog.Logger
}

// ExpiryInput is the scheduled event's input. Day (YYYY-MM-DD) runs the job
// as of the end of that Korean day, for reruns; default: yesterday, the
// last day that has fully passed.
type ExpiryInput struct {
	Day string `json:"day"`
}

// ExpiryResult is what one run did.
type ExpiryResult struct {
	Days   []string `json:"days"`
	Queued int      `json:"queued"`
	Failed int      `json:"failed"`
}

// Handle is the Lambda entry point; the event is the scheduler's (ignored)
// or an ExpiryInput.
func (e *Expirer) Handle(ctx context.Context, ev json.RawMessage) (ExpiryResult, error) {
	var in ExpiryInput
	_ = json.Unmarshal(ev, &in) // a scheduled event has no "day": the default applies
	last := stats.Day(e.Now().Add(-24 * time.Hour))
	if in.Day != "" {
		last = in.Day
	}
	return e.Run(ctx, last)
}

// Run queues the commands for holders due on the lookback days up to last.
// A holder due later in a day than the run is queued anyway and refused by
// the worker as not due; the next run catches it.
func (e *Expirer) Run(ctx context.Context, last string) (ExpiryResult, error) {
	end, err := time.ParseInLocation("2006-01-02", last, stats.Korea)
	if err != nil {
		return ExpiryResult{}, fmt.Errorf("expiry: day must be YYYY-MM-DD")
	}
	back := e.Lookback
	if back <= 0 {
		back = 7
	}
	var res ExpiryResult
	var due []holder.Due
	for d := end.AddDate(0, 0, -(back - 1)); !d.After(end); d = d.AddDate(0, 0, 1) {
		day := d.Format("2006-01-02")
		hs, err := e.Index.DueOn(ctx, day)
		if err != nil {
			return res, err
		}
		res.Days = append(res.Days, day)
		due = append(due, hs...)
	}
	now := e.Now().UTC()
	par := e.Parallel
	if par <= 0 {
		par = 16
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan holder.Due)
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range work {
				err := e.queue(ctx, h, now)
				mu.Lock()
				if err != nil {
					res.Failed++
				} else {
					res.Queued++
				}
				mu.Unlock()
			}
		}()
	}
	for _, h := range due {
		work <- h
	}
	close(work)
	wg.Wait()
	e.Log.InfoContext(ctx, "expiry run", "days", len(res.Days), "queued", res.Queued, "failed", res.Failed)
	if res.Failed > 0 {
		return res, fmt.Errorf("expiry: %d commands not queued (the next run retries them)", res.Failed)
	}
	return res, nil
}

func (e *Expirer) queue(ctx context.Context, h holder.Due, now time.Time) error {
	kind := holder.Expire
	if holder.Status(h.Status) == holder.Expired {
		kind = holder.Lapse
	}
	id, err := NewRequestID()
	if err != nil {
		return err
	}
	return e.Queue.Send(ctx, Message{V: MessageVersion, RequestID: "sys-" + id, Kind: kind, Actor: holder.BySystem,
		HolderKey: h.HolderKey, QueuedAt: now})
}
