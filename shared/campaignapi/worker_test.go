package campaignapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/campaign"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
)

// The worker's own ports, faked: a campaign store that records what is
// recorded, a code store that knows no code (each item is skipped as
// unknown, so carrying one out is one Record), queues that keep what is
// sent, a backlog and a bucket of set sizes.

type fakeCampaigns struct {
	mu      sync.Mutex
	c       dynamo.Campaign
	records []dynamo.ItemRecord
}

func (f *fakeCampaigns) Get(context.Context, string) (dynamo.Campaign, error) { return f.c, nil }
func (f *fakeCampaigns) Transition(context.Context, string, []string, string, map[string]dynamoAttr) error {
	return nil
}
func (f *fakeCampaigns) Work(context.Context, string) (dynamo.CampaignWork, error) {
	return dynamo.CampaignWork{}, nil
}
func (f *fakeCampaigns) Record(_ context.Context, r dynamo.ItemRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records = append(f.records, r)
	return nil
}
func (f *fakeCampaigns) ChangeItems(dynamo.ItemRecord) []dynamoTxItem { return nil }
func (f *fakeCampaigns) Outcome(context.Context, string, string) (string, string, error) {
	return "", "", nil
}

type unknownCodes struct{}

func (unknownCodes) CodeOwner(context.Context, string) (string, string, error) {
	return "", "", holder.ErrNoHolder
}
func (unknownCodes) Holder(context.Context, string) (dynamo.Holder, error) {
	return dynamo.Holder{}, holder.ErrNoHolder
}
func (unknownCodes) ApplyWith(context.Context, dynamo.Change, []dynamoTxItem) error {
	return errors.New("not expected")
}

type noNotices struct{}

func (noNotices) CodeChanged(context.Context, string, string, string, holder.Kind) error { return nil }
func (noNotices) CampaignNotice(context.Context, string, string, string, string) error   { return nil }

type sent struct {
	bodies []string
	delay  time.Duration
}

type keptSender struct {
	mu   sync.Mutex
	sent []sent
}

func (k *keptSender) Send(_ context.Context, bodies []string, delay time.Duration) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.sent = append(k.sent, sent{bodies: append([]string(nil), bodies...), delay: delay})
	return nil
}

type depth struct {
	n   int
	err error
}

func (d depth) Depth(context.Context) (int, error) { return d.n, d.err }

// falling is a backlog past the bound at its first reading, empty after.
type falling struct{ reads int }

func (f *falling) Depth(context.Context) (int, error) {
	f.reads++
	if f.reads == 1 {
		return 5000, nil
	}
	return 0, nil
}

// bucket hands out at most left tokens in all.
type bucket struct{ left int }

func (b *bucket) Take(_ context.Context, want int, _ float64) (int, time.Duration, error) {
	n := min(want, b.left)
	b.left -= n
	return n, time.Hour, nil // no more soon: the worker does not wait for them
}

const testCampaign = "AAAAAAAAAAAAAAAAAAAAAA"

func itemsEvent(t *testing.T, n int) events.SQSEvent {
	t.Helper()
	var ev events.SQSEvent
	for i := range n {
		d := fmt.Sprintf("%03d%08d", 123, i)
		b, _ := json.Marshal(campaign.Item{V: campaign.MessageVersion, Campaign: testCampaign, Code: "P" + d + string(codes.CheckDigit(d))})
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: fmt.Sprintf("m%d", i), Body: string(b),
			Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
	}
	return ev
}

func newWorker(backlog Depth, rate Bucket) (*Worker, *fakeCampaigns, *keptSender) {
	cs := &fakeCampaigns{c: dynamo.Campaign{ID: testCampaign, Action: string(campaign.Suspend), State: string(campaign.Active), Valid: 1000, RatePerSecond: 10}}
	items := &keptSender{}
	w := &Worker{
		Campaigns: cs, Codes: unknownCodes{}, Notices: noNotices{}, Items: items, Control: &keptSender{},
		Backlog: backlog, YieldBacklog: 2000, YieldWait: 30 * time.Millisecond, Wait: 7 * time.Second, MaxReceives: 5,
		Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if rate != nil {
		w.Rate = func(dynamo.Campaign) Bucket { return rate }
	}
	return w, cs, items
}

// People first: past the public backlog's bound (or when it cannot be
// read), a campaign's items are put back on their queue, delayed, and
// nothing of them is carried out; under it they are carried out.
func TestWorkerYieldsToThePublicBacklog(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backlog depth
		yields  bool
	}{
		{"backlog past the bound", depth{n: 2001}, true},
		{"backlog unknown", depth{err: errors.New("queue unreachable")}, true},
		{"backlog at the bound", depth{n: 2000}, false},
		{"no backlog", depth{n: 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, cs, items := newWorker(tc.backlog, nil)
			resp, err := w.Handle(context.Background(), itemsEvent(t, 4))
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("Handle: %v, failures %v", err, resp.BatchItemFailures)
			}
			if tc.yields {
				if len(cs.records) != 0 || len(items.sent) != 1 || len(items.sent[0].bodies) != 4 || items.sent[0].delay != 7*time.Second {
					t.Fatalf("yielding: %d carried out, put back %+v", len(cs.records), items.sent)
				}
				return
			}
			if len(cs.records) != 4 || len(items.sent) != 0 {
				t.Fatalf("not yielding: %d of 4 carried out, put back %+v", len(cs.records), items.sent)
			}
		})
	}
}

type arrivals struct {
	perSecond float64
	err       error
}

func (a arrivals) PerSecond(context.Context) (float64, error) { return a.perSecond, a.err }

// People first before any backlog builds: while people's commands are
// taken faster than YieldRate (or their rate cannot be read), a
// campaign's items wait though the public queue is empty.
func TestWorkerYieldsToPeoplesArrivals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rate   arrivals
		yields bool
	}{
		{"arrivals past the bound", arrivals{perSecond: 60}, true},
		{"arrivals unknown", arrivals{err: errors.New("table unreachable")}, true},
		{"arrivals at the bound", arrivals{perSecond: 50}, false},
		{"nobody", arrivals{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, cs, items := newWorker(depth{n: 0}, nil)
			w.Arrivals, w.YieldRate = tc.rate, 50
			resp, err := w.Handle(context.Background(), itemsEvent(t, 4))
			if err != nil || len(resp.BatchItemFailures) != 0 {
				t.Fatalf("Handle: %v, failures %v", err, resp.BatchItemFailures)
			}
			if tc.yields {
				if len(cs.records) != 0 || len(items.sent) != 1 || len(items.sent[0].bodies) != 4 {
					t.Fatalf("yielding: %d carried out, put back %+v", len(cs.records), items.sent)
				}
				return
			}
			if len(cs.records) != 4 || len(items.sent) != 0 {
				t.Fatalf("not yielding: %d of 4 carried out, put back %+v", len(cs.records), items.sent)
			}
		})
	}
}

// A batch that meets the backlog past its bound waits for it to fall
// (YieldWait) instead of putting its items back at once: the backlog gone
// within the wait, they are carried out, nothing put back.
func TestWorkerWaitsForTheBacklogToFall(t *testing.T) {
	f := &falling{}
	w, cs, items := newWorker(f, nil)
	w.YieldWait = 5 * time.Second
	start := time.Now()
	resp, err := w.Handle(context.Background(), itemsEvent(t, 4))
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle: %v, failures %v", err, resp.BatchItemFailures)
	}
	if len(cs.records) != 4 || len(items.sent) != 0 || f.reads < 2 {
		t.Fatalf("%d of 4 carried out, put back %+v, %d backlog reads", len(cs.records), items.sent, f.reads)
	}
	if took := time.Since(start); took < time.Second || took > 4*time.Second {
		t.Errorf("the batch waited %v for the backlog to be read again and found empty", took)
	}
}

// The campaign's rate: a batch carries out as many items as its bucket
// gives and puts the rest back, delayed; none is lost or run twice.
func TestWorkerHoldsTheCampaignsRate(t *testing.T) {
	w, cs, items := newWorker(depth{n: 0}, &bucket{left: 3})
	ev := itemsEvent(t, 10)
	resp, err := w.Handle(context.Background(), ev)
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("Handle: %v, failures %v", err, resp.BatchItemFailures)
	}
	if len(cs.records) != 3 || len(items.sent) != 1 || len(items.sent[0].bodies) != 7 || items.sent[0].delay != 7*time.Second {
		t.Fatalf("%d carried out, put back %+v", len(cs.records), items.sent)
	}
	seen := map[string]int{}
	for _, r := range cs.records {
		seen[r.Code]++
	}
	for _, b := range items.sent[0].bodies {
		it, err := campaign.ParseItem(b)
		if err != nil {
			t.Fatal(err)
		}
		seen[it.Code]++
	}
	if len(seen) != 10 {
		t.Fatalf("%d distinct codes of 10 carried out or put back: %v", len(seen), seen)
	}
	for code, n := range seen {
		if n != 1 {
			t.Errorf("%s carried out or put back %d times", code, n)
		}
	}
}

// A paused campaign's items wait on the queue; a cancelled one's are
// dropped without being carried out.
func TestWorkerPausedAndCancelled(t *testing.T) {
	w, cs, items := newWorker(depth{n: 0}, nil)
	cs.c.State = string(campaign.Paused)
	if resp, _ := w.Handle(context.Background(), itemsEvent(t, 2)); len(resp.BatchItemFailures) != 0 || len(cs.records) != 0 || len(items.sent) != 1 {
		t.Fatalf("paused: failures %v, %d carried out, put back %+v", resp.BatchItemFailures, len(cs.records), items.sent)
	}
	cs.c.State = string(campaign.Cancelled)
	if resp, _ := w.Handle(context.Background(), itemsEvent(t, 2)); len(resp.BatchItemFailures) != 0 || len(cs.records) != 0 || len(items.sent) != 1 {
		t.Fatalf("cancelled: failures %v, %d carried out, put back %+v", resp.BatchItemFailures, len(cs.records), items.sent)
	}
}
