package campaignapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/campaign"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/lifecycle"
	"github.com/pccc/pccc/shared/sqsbatch"
	"github.com/pccc/pccc/shared/stats"
)

// Campaigns is the campaign store (dynamo.CampaignStore).
type Campaigns interface {
	Get(ctx context.Context, id string) (dynamo.Campaign, error)
	Transition(ctx context.Context, id string, from []string, to string, set map[string]dynamoAttr) error
	Work(ctx context.Context, id string) (dynamo.CampaignWork, error)
	Record(ctx context.Context, r dynamo.ItemRecord) error
	ChangeItems(r dynamo.ItemRecord) []dynamoTxItem
	Outcome(ctx context.Context, id, code string) (string, string, error)
}

// Codes is what the worker needs of the code store (dynamo.CodeStore).
type Codes interface {
	CodeOwner(ctx context.Context, code string) (string, string, error)
	Holder(ctx context.Context, hk string) (dynamo.Holder, error)
	ApplyWith(ctx context.Context, c dynamo.Change, extra []dynamoTxItem) error
}

// Notices queues the holders' notices of a campaign (notify.Notifier on
// the bulk queue).
type Notices interface {
	CodeChanged(ctx context.Context, holderKey, sealedPhone, requestID string, kind holder.Kind) error
	CampaignNotice(ctx context.Context, holderKey, sealedPhone, campaignID, code string) error
}

// Sender puts messages on a queue.
type Sender interface {
	Send(ctx context.Context, bodies []string, delay time.Duration) error
}

// Bucket is a campaign's rate (dynamo.SMSBucket as a plain token bucket).
type Bucket interface {
	Take(ctx context.Context, want int, reserve float64) (int, time.Duration, error)
}

// Depth is the public command queue's backlog (sqsqueue.Depth).
type Depth interface {
	Depth(ctx context.Context) (int, error)
}

// Arrivals is how fast people's commands are taken, over all API
// instances (PublicRate: the admission gate's rate counter).
type Arrivals interface {
	PerSecond(ctx context.Context) (float64, error)
}

// Worker carries out campaign items behind the campaign queue.
type Worker struct {
	Campaigns Campaigns
	Codes     Codes
	Notices   Notices
	// Items is the campaign queue, where items wait again (paused, the
	// public queue backed up, no share of the rate yet).
	Items Sender
	// Control is the control queue (the report, once a campaign ends).
	Control Sender
	// Rate returns a campaign's token bucket at its rate.
	Rate func(c dynamo.Campaign) Bucket
	// Backlog is the public command queue's depth; past YieldBacklog the
	// campaign's items wait (people first).
	Backlog      Depth
	YieldBacklog int
	// Arrivals is how fast people's commands come in; past YieldRate a
	// second the campaign's items wait too, before any backlog builds: a
	// surge's first seconds, while the workers still keep up, are when
	// the accept path needs the table's time most.
	Arrivals  Arrivals
	YieldRate float64
	// YieldWait is how long a batch that meets the backlog past its bound
	// waits for it to fall before its items are put back (default 10 s,
	// within the invocation's time): a few batches wait instead of the
	// whole queue cycling through the workers while people come first.
	YieldWait time.Duration
	// Wait is how long items put back wait.
	Wait time.Duration
	// FailureShare fails a campaign whose failures pass it
	// (campaign.Totals.ShouldFail).
	FailureShare float64
	Policy       holder.Policy
	NewCode      func() (string, error)
	MaxReceives  int
	Now          func() time.Time
	Log          *slog.Logger

	mu      sync.Mutex
	readAt  time.Time
	crowded bool
}

// Handle processes a batch of items, reporting failed ones by id.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	byCampaign := map[string][]events.SQSMessage{}
	items := map[string]campaign.Item{}
	for _, m := range ev.Records {
		it, err := campaign.ParseItem(m.Body)
		if err != nil {
			// Never carried out as it is; nothing to record it under.
			w.Log.ErrorContext(ctx, "campaign item unreadable", "messageId", m.MessageId)
			continue
		}
		items[m.MessageId] = it
		byCampaign[it.Campaign] = append(byCampaign[it.Campaign], m)
	}
	for id, msgs := range byCampaign {
		failed := w.batch(ctx, id, msgs, items)
		for _, f := range failed {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: f})
		}
	}
	w.Log.InfoContext(ctx, "campaign batch", "messages", len(ev.Records), "failed", len(resp.BatchItemFailures))
	return resp, nil
}

// batch carries out one campaign's items of a batch and returns the ids
// of those to retry.
func (w *Worker) batch(ctx context.Context, id string, msgs []events.SQSMessage, items map[string]campaign.Item) []string {
	all := func() []string { return idsOf(msgs) }
	c, err := w.Campaigns.Get(ctx, id)
	if errors.Is(err, dynamo.ErrNoCampaign) {
		return nil
	}
	if err != nil {
		w.Log.WarnContext(ctx, "campaign read failed", "campaign", id, "err", err.Error())
		return all()
	}
	switch s := campaign.State(c.State); {
	case s.Final():
		return nil // cancelled or over: the rest is not run
	case s != campaign.Active:
		w.Log.InfoContext(ctx, "campaign items wait", "campaign", id, "state", c.State, "items", len(msgs))
		return w.later(ctx, msgs, items, all) // paused: wait on the queue
	}
	if w.busy(ctx) && !w.awaitQuiet(ctx) {
		w.Log.InfoContext(ctx, "campaign items wait", "campaign", id, "why", "people's commands", "items", len(msgs))
		return w.later(ctx, msgs, items, all)
	}
	todo := msgs
	var failed []string
	if w.Rate != nil {
		if got := w.tokens(ctx, w.Rate(c), len(msgs)); got < len(msgs) {
			rest := msgs[got:]
			w.Log.InfoContext(ctx, "campaign items wait", "campaign", id, "why", "rate", "items", len(rest))
			failed = w.later(ctx, rest, items, func() []string { return idsOf(rest) })
			todo = msgs[:got]
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, itemsAtOnce)
	for _, m := range todo {
		wg.Add(1)
		slots <- struct{}{}
		go func(m events.SQSMessage) {
			defer func() { <-slots; wg.Done() }()
			it := items[m.MessageId]
			err := w.Execute(ctx, c, it.Code)
			if err != nil && sqsbatch.Receives(m) >= w.MaxReceives {
				err = w.giveUp(ctx, c, it.Code, err)
			}
			if err != nil {
				w.Log.WarnContext(ctx, "campaign item failed", "campaign", id, "messageId", m.MessageId, "receives", sqsbatch.Receives(m), "err", err.Error())
				mu.Lock()
				failed = append(failed, m.MessageId)
				mu.Unlock()
			}
		}(m)
	}
	wg.Wait()
	if err := w.Settle(ctx, id); err != nil {
		w.Log.WarnContext(ctx, "campaign settle failed", "campaign", id, "err", err.Error())
	}
	return failed
}

// itemsAtOnce is how many items of a batch are carried out at once.
const itemsAtOnce = 3

func idsOf(msgs []events.SQSMessage) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.MessageId
	}
	return out
}

// later puts items back on the queue, delayed, so waiting spends none of
// their receives; if that fails they are retried the ordinary way.
func (w *Worker) later(ctx context.Context, msgs []events.SQSMessage, items map[string]campaign.Item, all func() []string) []string {
	bodies := make([]string, 0, len(msgs))
	for _, m := range msgs {
		b, _ := json.Marshal(items[m.MessageId])
		bodies = append(bodies, string(b))
	}
	wait := w.Wait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	if err := w.Items.Send(ctx, bodies, wait); err != nil {
		w.Log.WarnContext(ctx, "campaign items not put back", "err", err.Error())
		return all()
	}
	return nil
}

// busy says whether people's commands come first now: the public
// command queue's backlog past its bound, or people's commands arriving
// faster than YieldRate, or either unknown. Read at most once a second
// per instance.
func (w *Worker) busy(ctx context.Context) bool {
	if (w.Backlog == nil || w.YieldBacklog <= 0) && (w.Arrivals == nil || w.YieldRate <= 0) {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if now.Sub(w.readAt) <= time.Second {
		return w.crowded
	}
	w.crowded, w.readAt = w.read(ctx), now
	return w.crowded
}

func (w *Worker) read(ctx context.Context) bool {
	if w.Backlog != nil && w.YieldBacklog > 0 {
		d, err := w.Backlog.Depth(ctx)
		if err != nil {
			w.Log.WarnContext(ctx, "command queue depth unknown", "err", err.Error())
			return true // unknown: people first
		}
		if d > w.YieldBacklog {
			return true
		}
	}
	if w.Arrivals != nil && w.YieldRate > 0 {
		r, err := w.Arrivals.PerSecond(ctx)
		if err != nil {
			w.Log.WarnContext(ctx, "people's command rate unknown", "err", err.Error())
			return true
		}
		if r > w.YieldRate {
			return true
		}
	}
	return false
}

// awaitQuiet holds the batch while people's commands come first,
// up to YieldWait (and 5 s before the invocation's end), and reports
// whether they stopped doing so in that time.
func (w *Worker) awaitQuiet(ctx context.Context) bool {
	wait := w.YieldWait
	if wait <= 0 {
		wait = 10 * time.Second
	}
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Add(-5*time.Second).Before(deadline) {
		deadline = d.Add(-5 * time.Second)
	}
	for time.Now().Before(deadline) {
		step := min(time.Second, time.Until(deadline))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(step):
		}
		if !w.busy(ctx) {
			return true
		}
	}
	return false
}

// tokens takes up to want of a campaign's rate, waiting a while for them.
func (w *Worker) tokens(ctx context.Context, b Bucket, want int) int {
	deadline := time.Now().Add(3 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Add(-5*time.Second).Before(deadline) {
		deadline = d.Add(-5 * time.Second)
	}
	got := 0
	for got < want {
		n, wait, err := b.Take(ctx, want-got, 0)
		if err != nil {
			return got
		}
		got += n
		if got == want {
			break
		}
		wait = max(wait, 10*time.Millisecond)
		if time.Now().Add(wait).After(deadline) {
			break
		}
		time.Sleep(wait)
	}
	return got
}

// record counts one item's outcome; recorded before (a duplicate
// delivery) is done with, its notice queued again if it was carried out.
func (w *Worker) record(ctx context.Context, c dynamo.Campaign, code, counter, outcome, reason string, kind stats.Kind) error {
	err := w.Campaigns.Record(ctx, dynamo.ItemRecord{
		Campaign: c.ID, Code: code, Counter: counter, Outcome: outcome, Reason: reason, At: w.Now().UTC(),
		Counts: []stats.Kind{kind},
	})
	if errors.Is(err, dynamo.ErrItemRecorded) {
		return w.again(ctx, c, code)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", errBusy, err)
	}
	return nil
}

// errBusy is a record that did not go through (a conflict on a counter
// shard, a throttled table): Execute tries again.
var errBusy = errors.New("record not written")

// Execute carries out one code of a campaign through the rules and the
// transaction of a holder's own command, the authority as the actor. It
// returns nil once the item is recorded (now or before); an error means
// try again.
func (w *Worker) Execute(ctx context.Context, c dynamo.Campaign, code string) error {
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(time.Duration(rand.Int64N(int64(20*time.Millisecond) * int64(attempt))))
		}
		if err = w.execute(ctx, c, code); !errors.Is(err, errBusy) {
			return err
		}
	}
	return err
}

func (w *Worker) execute(ctx context.Context, c dynamo.Campaign, code string) error {
	act := campaign.Action(c.Action)
	for attempt := range 10 {
		if attempt > 0 {
			time.Sleep(time.Duration(rand.Int64N(int64(5*time.Millisecond) * int64(attempt))))
		}
		owner, status, err := w.Codes.CodeOwner(ctx, code)
		switch {
		case errors.Is(err, holder.ErrNoHolder):
			return w.record(ctx, c, code, dynamo.CampaignSkipUnknown, campaign.OutcomeSkipped, campaign.SkipUnknown, stats.CampaignItemsSkipped)
		case err != nil:
			return err
		case status == dynamo.CodeRetired:
			return w.record(ctx, c, code, dynamo.CampaignSkipRetired, campaign.OutcomeSkipped, campaign.SkipRetired, stats.CampaignItemsSkipped)
		}
		h, err := w.Codes.Holder(ctx, owner)
		switch {
		case errors.Is(err, holder.ErrNoHolder):
			return w.record(ctx, c, code, dynamo.CampaignSkipUnknown, campaign.OutcomeSkipped, campaign.SkipUnknown, stats.CampaignItemsSkipped)
		case err != nil:
			return err
		case h.Code != code:
			// Retired meanwhile (a reissue raced the read of the code).
			continue
		}
		if act == campaign.Notify {
			if err := w.Campaigns.Record(ctx, dynamo.ItemRecord{
				Campaign: c.ID, Code: code, Counter: dynamo.CampaignDone, Outcome: campaign.OutcomeDone, At: w.Now().UTC(),
				Counts: []stats.Kind{stats.CampaignItemsDone},
			}); err != nil && !errors.Is(err, dynamo.ErrItemRecorded) {
				return fmt.Errorf("%w: %w", errBusy, err)
			}
			return w.Notices.CampaignNotice(ctx, h.Key, h.Sealed[holder.FieldPhone], c.ID, code)
		}
		now := w.Now().UTC()
		cur := lifecycle.RecordOf(h)
		kind := act.Kind()
		next, eff, err := holder.Decide(&cur, kind, holder.ByAuthority, now, w.Policy)
		if err != nil {
			var refusal *apperr.Error
			if errors.As(err, &refusal) {
				return w.record(ctx, c, code, dynamo.CampaignSkipState, campaign.OutcomeSkipped, campaign.SkipWrongState, stats.CampaignItemsSkipped)
			}
			return err
		}
		if eff.NewCode {
			if next.Code, err = w.NewCode(); err != nil {
				return err
			}
		}
		reqID := campaign.RequestID(c.ID, code)
		m := lifecycle.Message{V: lifecycle.MessageVersion, RequestID: reqID, Kind: kind, Actor: holder.ByAuthority, HolderKey: h.Key, Reason: c.Reason, QueuedAt: now}
		ch := dynamo.Change{
			RequestID: reqID, Actor: string(holder.ByAuthority), Kind: eff.Count, Command: string(kind),
			Counts: append(holder.Counts(kind, holder.ByAuthority, c.Reason), stats.CampaignItemsDone),
			At:     now, Old: h, New: lifecycle.Stored(h, next, m, w.Policy),
			RetireCode: eff.RetireCode,
		}
		extra := w.Campaigns.ChangeItems(dynamo.ItemRecord{
			Campaign: c.ID, Code: code, Counter: dynamo.CampaignDone, Outcome: campaign.OutcomeDone, At: now,
		})
		if eff.NewCode {
			ch.NewCode = next.Code
		}
		switch err := w.Codes.ApplyWith(ctx, ch, extra); {
		case apperr.As(err).Code == apperr.Overloaded:
			continue // a conflict on a counter, or throttled: again, after a wait
		case err == nil:
			return w.Notices.CodeChanged(ctx, h.Key, h.Sealed[holder.FieldPhone], reqID, kind)
		case errors.Is(err, holder.ErrApplied), errors.Is(err, dynamo.ErrItemRecorded):
			return w.again(ctx, c, code)
		case errors.Is(err, holder.ErrCodeTaken), errors.Is(err, holder.ErrStaleHolder), errors.Is(err, holder.ErrAlreadyIssued):
			continue
		default:
			return err
		}
	}
	return fmt.Errorf("campaign %s: an item still conflicting after 10 attempts", c.ID)
}

// again handles an item recorded before: if it was carried out, its
// notice is queued again (the notice's id sends it once), since the
// worker that recorded it may have died before queueing it.
func (w *Worker) again(ctx context.Context, c dynamo.Campaign, code string) error {
	outcome, _, err := w.Campaigns.Outcome(ctx, c.ID, code)
	if err != nil || outcome != campaign.OutcomeDone {
		return err
	}
	owner, _, err := w.Codes.CodeOwner(ctx, code)
	if err != nil {
		return err
	}
	h, err := w.Codes.Holder(ctx, owner)
	if err != nil {
		return err
	}
	if campaign.Action(c.Action) == campaign.Notify {
		return w.Notices.CampaignNotice(ctx, h.Key, h.Sealed[holder.FieldPhone], c.ID, code)
	}
	return w.Notices.CodeChanged(ctx, h.Key, h.Sealed[holder.FieldPhone], campaign.RequestID(c.ID, code), campaign.Action(c.Action).Kind())
}

// giveUp records an item that failed at its last receive as failed, so
// it is counted and reported instead of waiting in the dead-letter queue.
func (w *Worker) giveUp(ctx context.Context, c dynamo.Campaign, code string, cause error) error {
	err := w.Campaigns.Record(ctx, dynamo.ItemRecord{
		Campaign: c.ID, Code: code, Counter: dynamo.CampaignFailed, Outcome: campaign.OutcomeFailed, Reason: "error", At: w.Now().UTC(),
		Counts: []stats.Kind{stats.CampaignItemsFailed},
	})
	if err == nil || errors.Is(err, dynamo.ErrItemRecorded) {
		w.Log.WarnContext(ctx, "campaign item given up", "campaign", c.ID, "err", cause.Error())
		return nil
	}
	return errors.Join(cause, err)
}

// Totals are a campaign's figures: the list's and the work's.
func Totals(c dynamo.Campaign, wk dynamo.CampaignWork) campaign.Totals {
	return campaign.Totals{
		Listed: c.Listed, Invalid: c.Invalid, Duplicate: c.Duplicate, Valid: c.Valid, Queued: c.Queued,
		Done: wk.Done, SkippedUnknown: wk.SkippedUnknown, SkippedRetired: wk.SkippedRetired,
		SkippedWrongState: wk.SkippedWrongState, Failed: wk.Failed,
	}
}

// Settle ends an active or paused campaign whose items are all processed
// (complete) or whose failures passed the share (failed), and asks for
// its report.
func (w *Worker) Settle(ctx context.Context, id string) error {
	return settle(ctx, w.Campaigns, w.Control, w.FailureShare, w.Now, id)
}

func settle(ctx context.Context, cs Campaigns, control Sender, share float64, now func() time.Time, id string) error {
	c, err := cs.Get(ctx, id)
	if err != nil {
		return err
	}
	if s := campaign.State(c.State); s != campaign.Active && s != campaign.Paused {
		return nil
	}
	wk, err := cs.Work(ctx, id)
	if err != nil {
		return err
	}
	t := Totals(c, wk)
	to, why := "", ""
	switch {
	case t.ShouldFail(share):
		to, why = string(campaign.Failed), "failure_share"
	case t.Finished():
		to = string(campaign.Complete)
	default:
		return nil
	}
	set := map[string]dynamoAttr{"endedAt": dynamo.TimeAttr(now())}
	if why != "" {
		set["stateReason"] = dynamo.StringAttr(why)
	}
	err = cs.Transition(ctx, id, []string{string(campaign.Active), string(campaign.Paused)}, to, set)
	if errors.Is(err, dynamo.ErrCampaignState) {
		return nil // someone else settled it
	}
	if err != nil {
		return err
	}
	return sendControl(ctx, control, campaign.OpReport, id, 0)
}

func sendControl(ctx context.Context, control Sender, op, id string, delay time.Duration) error {
	b, _ := json.Marshal(campaign.Control{Op: op, Campaign: id})
	return control.Send(ctx, []string{string(b)}, delay)
}
