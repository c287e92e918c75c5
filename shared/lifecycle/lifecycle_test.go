package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/idempotency"
	"github.com/pccc/pccc/shared/sealer"
)

// Small fakes of our own interfaces.

type fakeStore struct {
	holder  *holder.Stored
	applied []holder.Change
	errs    []error // returned by Apply in turn
}

func (f *fakeStore) Holder(_ context.Context, hk string) (holder.Stored, error) {
	if f.holder == nil {
		return holder.Stored{}, holder.ErrNoHolder
	}
	return *f.holder, nil
}

func (f *fakeStore) Apply(_ context.Context, c holder.Change) error {
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		if err != nil {
			return err
		}
	}
	f.applied = append(f.applied, c)
	h := c.New
	h.Version = c.Old.Version + 1
	f.holder = &h
	return nil
}

// fakeRequests keeps requests by id, with the store's claim rules.
type fakeRequests struct {
	queued []holder.Request
	failed map[string]string
	byID   map[string]holder.Request
}

func (f *fakeRequests) Queue(_ context.Context, r holder.Request) error {
	f.queued = append(f.queued, r)
	return nil
}

func (f *fakeRequests) Claim(_ context.Context, r holder.Request, now time.Time) (holder.Request, bool, error) {
	if f.byID == nil {
		f.byID = map[string]holder.Request{}
	}
	if old, ok := f.byID[r.ID]; ok && !old.KeyUntil.Before(now) && !(old.Status == holder.RequestFailed && old.Unsent) {
		return old, false, nil
	}
	f.byID[r.ID] = r
	f.queued = append(f.queued, r)
	return r, true, nil
}

func (f *fakeRequests) Refuse(_ context.Context, id, hash, refusal string) error {
	if r, ok := f.byID[id]; ok && r.Status == holder.RequestQueued && r.PayloadHash == hash {
		r.Status, r.Refusal = holder.RequestRefused, refusal
		f.byID[id] = r
	}
	return nil
}

func (f *fakeRequests) Unsent(_ context.Context, id, reason string) error {
	if f.failed == nil {
		f.failed = map[string]string{}
	}
	f.failed[id] = reason
	if r, ok := f.byID[id]; ok && r.Status == holder.RequestQueued {
		r.Status, r.Error, r.Unsent = holder.RequestFailed, reason, true
		f.byID[id] = r
	}
	return nil
}

func (f *fakeRequests) Fail(_ context.Context, id, reason string) error {
	if f.failed == nil {
		f.failed = map[string]string{}
	}
	f.failed[id] = reason
	return nil
}

// fakeQueue is safe for the concurrent sends of the expiry job.
type fakeQueue struct {
	mu   sync.Mutex
	sent []Message
	err  error
}

func (f *fakeQueue) Send(_ context.Context, m Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, m)
	return nil
}

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

func newSealer(t *testing.T) *sealer.Sealer {
	s, err := sealer.New(map[string][]byte{"k1": []byte(strings.Repeat("d", 32))}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func service(t *testing.T, st *fakeStore) (*Service, *fakeRequests, *fakeQueue) {
	rq, q := &fakeRequests{}, &fakeQueue{}
	return &Service{Holders: st, Requests: rq, Queue: q, Sealer: newSealer(t), Policy: holder.DefaultPolicy(),
		Now: func() time.Time { return t0 }}, rq, q
}

func TestSubmitSealsAndQueues(t *testing.T) {
	svc, rq, q := service(t, &fakeStore{})
	rc, err := svc.Submit(context.Background(), "hk", Command{Kind: holder.Issue, Fields: map[string]string{"phone": "01012345678", "email": ""}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rq.queued) != 1 || rq.queued[0].Owner != "hk" || len(q.sent) != 1 || q.sent[0].RequestID != rc.Request.ID {
		t.Fatalf("queued %+v sent %+v", rq.queued, q.sent)
	}
	b, _ := json.Marshal(q.sent[0])
	if strings.Contains(string(b), "01012345678") {
		t.Fatal("the message holds the phone in clear")
	}
	plain, err := newSealer(t).Open(holder.FieldAAD("hk", "phone"), q.sent[0].Sealed["phone"])
	if err != nil || string(plain) != "01012345678" {
		t.Fatalf("sealed phone: %q %v", plain, err)
	}
	if _, err := newSealer(t).Open(holder.FieldAAD("other", "phone"), q.sent[0].Sealed["phone"]); err == nil {
		t.Fatal("a field sealed for one holder opened for another")
	}
	if v, ok := q.sent[0].Sealed["email"]; !ok || v != "" {
		t.Fatal("an emptied field is not carried as a removal")
	}
}

func TestSubmitRefusesAtOnce(t *testing.T) {
	live := &holder.Stored{Key: "hk", Code: "P1", Status: "active", ExpiresAt: t0.AddDate(1, 0, 0), Version: 1}
	svc, rq, q := service(t, &fakeStore{holder: live})
	if _, err := svc.Submit(context.Background(), "hk", Command{Kind: holder.Issue}); err != holder.ErrLiveCode {
		t.Fatalf("issue over a live code: %v", err)
	}
	if len(rq.queued)+len(q.sent) != 0 {
		t.Fatal("a refused command was recorded or queued")
	}
}

func TestSubmitQueueDown(t *testing.T) {
	svc, rq, q := service(t, &fakeStore{})
	q.err = errors.New("sqs down")
	_, err := svc.Submit(context.Background(), "hk", Command{Kind: holder.Issue})
	if e := apperr.As(err); e.Code != apperr.Overloaded || e.RetryAfter == 0 {
		t.Fatalf("%v", err)
	}
	if len(rq.queued) != 1 || rq.failed[rq.queued[0].ID] == "" {
		t.Fatalf("the request was not marked failed: %+v", rq)
	}
}

// TestSubmitWithKey: a keyed command is one claim; the same key and body
// get the same request again (its command sent again while it is queued),
// another body a 409, another holder another request.
func TestSubmitWithKey(t *testing.T) {
	ctx := context.Background()
	svc, rq, q := service(t, &fakeStore{})
	c := Command{Kind: holder.Issue, Fields: map[string]string{"phone": "01012345678"}, Key: "k1", PayloadHash: "H1"}
	first, err := svc.Submit(ctx, "hk", c)
	if err != nil || first.Replayed || first.Request.ID != RequestIDFor("hk", "k1") || len(q.sent) != 1 {
		t.Fatalf("first: %+v %v sent %d", first, err, len(q.sent))
	}
	again, err := svc.Submit(ctx, "hk", c)
	if err != nil || !again.Replayed || again.Request.ID != first.Request.ID {
		t.Fatalf("again: %+v %v", again, err)
	}
	if len(q.sent) != 2 || q.sent[1].RequestID != first.Request.ID {
		t.Fatalf("a replay of a queued request did not send its command again: %+v", q.sent)
	}
	other := c
	other.PayloadHash = "H2"
	if _, err := svc.Submit(ctx, "hk", other); err != idempotency.ErrReused {
		t.Fatalf("another body: %v", err)
	}
	// Ended requests replay without a send.
	r := rq.byID[first.Request.ID]
	r.Status = holder.RequestSucceeded
	rq.byID[first.Request.ID] = r
	if rc, err := svc.Submit(ctx, "hk", c); err != nil || !rc.Replayed || len(q.sent) != 2 {
		t.Fatalf("replay of a finished request: %+v %v sent %d", rc, err, len(q.sent))
	}
	if RequestIDFor("hk2", "k1") == first.Request.ID || RequestIDFor("hk", "k2") == first.Request.ID {
		t.Fatal("request ids of other holders or keys collide")
	}
	if id := RequestIDFor("hk", "k1"); len(id) != 22 || !requestIDChars(id) {
		t.Fatalf("request id %q is not the shape of a random one", id)
	}
	// Past the key's time the key starts a new request.
	svc.Now = func() time.Time { return t0.Add(25 * time.Hour) }
	if rc, err := svc.Submit(ctx, "hk", other); err != nil || rc.Replayed {
		t.Fatalf("a key past its time: %+v %v", rc, err)
	}
}

func requestIDChars(id string) bool {
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// TestSubmitWithKeyRefused: a refusal is kept for the key and replayed
// as it was, without a send.
func TestSubmitWithKeyRefused(t *testing.T) {
	ctx := context.Background()
	live := &holder.Stored{Key: "hk", Code: "P1", Status: "active", ExpiresAt: t0.AddDate(1, 0, 0), Version: 1}
	svc, rq, q := service(t, &fakeStore{holder: live})
	c := Command{Kind: holder.Issue, Key: "k1", PayloadHash: "H"}
	if _, err := svc.Submit(ctx, "hk", c); err != holder.ErrLiveCode {
		t.Fatalf("first: %v", err)
	}
	if r := rq.byID[RequestIDFor("hk", "k1")]; r.Status != holder.RequestRefused {
		t.Fatalf("stored %+v", r)
	}
	_, err := svc.Submit(ctx, "hk", c)
	if e := apperr.As(err); e.Code != holder.ErrLiveCode.Code || e.Message != holder.ErrLiveCode.Message || len(q.sent) != 0 {
		t.Fatalf("replayed refusal: %v, sent %d", err, len(q.sent))
	}
}

// TestSubmitWithKeyUnsent: a command the queue would not take fails its
// request as unsent (503 with Retry-After), and the key can be used again
// at once.
func TestSubmitWithKeyUnsent(t *testing.T) {
	ctx := context.Background()
	svc, rq, q := service(t, &fakeStore{})
	q.err = errors.New("sqs down")
	c := Command{Kind: holder.Issue, Key: "k1", PayloadHash: "H"}
	_, err := svc.Submit(ctx, "hk", c)
	if e := apperr.As(err); e.Code != apperr.Overloaded || e.RetryAfter == 0 {
		t.Fatalf("queue down: %v", err)
	}
	if r := rq.byID[RequestIDFor("hk", "k1")]; r.Status != holder.RequestFailed || !r.Unsent {
		t.Fatalf("stored %+v", r)
	}
	q.err = nil
	rc, err := svc.Submit(ctx, "hk", c)
	if err != nil || rc.Replayed || len(q.sent) != 1 {
		t.Fatalf("retry: %+v %v sent %d", rc, err, len(q.sent))
	}
}

func worker(st *fakeStore, rq *fakeRequests) *Worker {
	n := 0
	return &Worker{Store: st, Requests: rq, Policy: holder.DefaultPolicy(), Now: func() time.Time { return t0 }, MaxReceives: 5,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)),
		NewCode: func() (string, error) {
			n++
			return []string{"P100000000005", "P100000000013", "P100000000021"}[n-1], nil
		}}
}

func sqsEvent(receives string, bodies ...string) events.SQSEvent {
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: string(rune('a' + i)), Body: b,
			Attributes: map[string]string{"ApproximateReceiveCount": receives}})
	}
	return ev
}

func body(m Message) string {
	m.V = MessageVersion
	b, _ := json.Marshal(m)
	return string(b)
}

func TestWorkerBatch(t *testing.T) {
	st, rq := &fakeStore{}, &fakeRequests{}
	w := worker(st, rq)
	issue := body(Message{RequestID: "r1", Kind: holder.Issue, Actor: holder.ByHolder, HolderKey: "hk", Sealed: map[string]string{"phone": "sealed"}})
	resume := body(Message{RequestID: "r2", Kind: holder.Resume, Actor: holder.ByHolder, HolderKey: "hk"})
	poison := `{"v":1,"requestId":"r3","kind":"frobnicate","actor":"holder","holderKey":"hk"}`
	resp, err := w.Handle(context.Background(), sqsEvent("1", issue, resume, poison, "not json"))
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	// The issue applies; the resume is refused by the rules (not retried,
	// the request says why); the two unreadable messages are retried.
	if strings.Join(failed, ",") != "c,d" {
		t.Fatalf("batch failures %v", failed)
	}
	if len(st.applied) != 1 || st.applied[0].NewCode != "P100000000005" || st.holder.Sealed["phone"] != "sealed" || st.holder.Due.IsZero() {
		t.Fatalf("applied %+v", st.applied)
	}
	if rq.failed["r2"] == "" || rq.failed["r3"] != "" {
		t.Fatalf("failed %v", rq.failed)
	}
	// At the last receive the request of an unreadable command is failed.
	_, _ = w.Handle(context.Background(), sqsEvent("5", poison))
	if rq.failed["r3"] != ReasonUnprocessable {
		t.Fatalf("at the last receive: %v", rq.failed)
	}
}

func TestWorkerRetriesConflictsAndIgnoresDuplicates(t *testing.T) {
	st := &fakeStore{errs: []error{holder.ErrCodeTaken, holder.ErrStaleHolder}}
	rq := &fakeRequests{}
	w := worker(st, rq)
	if err := w.Execute(context.Background(), Message{RequestID: "r1", Kind: holder.Issue, Actor: holder.ByHolder, HolderKey: "hk"}); err != nil {
		t.Fatal(err)
	}
	if len(st.applied) != 1 || st.applied[0].NewCode != "P100000000021" {
		t.Fatalf("after a taken code and a stale read: %+v", st.applied)
	}
	st.errs = []error{holder.ErrApplied}
	if err := w.Execute(context.Background(), Message{RequestID: "r2", Kind: holder.Suspend, Actor: holder.ByHolder, HolderKey: "hk"}); err != nil {
		t.Fatalf("a duplicate: %v", err)
	}
	if len(st.applied) != 1 || len(rq.failed) != 0 {
		t.Fatalf("a duplicate had an effect: %+v %v", st.applied, rq.failed)
	}
	st.errs = []error{errors.New("throttled")}
	if err := w.Execute(context.Background(), Message{RequestID: "r3", Kind: holder.Suspend, Actor: holder.ByHolder, HolderKey: "hk"}); err == nil {
		t.Fatal("a store error was swallowed")
	}
}

func TestUpdateMergesSealedFields(t *testing.T) {
	st := &fakeStore{holder: &holder.Stored{Key: "hk", Code: "P1", Status: "active", ExpiresAt: t0.AddDate(0, 6, 0), Version: 3,
		Sealed: map[string]string{"phone": "old", "email": "mail", "englishName": "name"}}}
	w := worker(st, &fakeRequests{})
	err := w.Execute(context.Background(), Message{RequestID: "r", Kind: holder.Update, Actor: holder.ByHolder, HolderKey: "hk",
		Sealed: map[string]string{"phone": "new", "email": ""}})
	if err != nil {
		t.Fatal(err)
	}
	got := st.holder.Sealed
	if got["phone"] != "new" || got["englishName"] != "name" || len(got) != 2 {
		t.Fatalf("sealed after update: %v", got)
	}
	if !st.holder.ExpiresAt.Equal(t0.AddDate(1, 0, 0)) {
		t.Fatalf("validity not restarted: %v", st.holder.ExpiresAt)
	}
}

func TestExpirerQueuesDueHolders(t *testing.T) {
	q := &fakeQueue{}
	e := &Expirer{Index: dueIndex{"2026-11-30": {{HolderKey: "a", Status: "active"}}, "2026-11-25": {{HolderKey: "b", Status: "expired"}}},
		Queue: q, Now: func() time.Time { return t0 }, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	res, err := e.Handle(context.Background(), json.RawMessage(`{"detail-type":"Scheduled Event"}`))
	if err != nil || res.Queued != 2 || res.Days[6] != "2026-11-30" || res.Days[0] != "2026-11-24" {
		t.Fatalf("%+v %v", res, err)
	}
	kinds := map[string]holder.Kind{}
	for _, m := range q.sent {
		kinds[m.HolderKey] = m.Kind
		if m.Actor != holder.BySystem || !strings.HasPrefix(m.RequestID, "sys-") {
			t.Errorf("message %+v", m)
		}
	}
	if kinds["a"] != holder.Expire || kinds["b"] != holder.Lapse {
		t.Fatalf("kinds %v", kinds)
	}
	if _, err := e.Handle(context.Background(), json.RawMessage(`{"day":"yesterday"}`)); err == nil {
		t.Fatal("a bad day was accepted")
	}
}

type dueIndex map[string][]holder.Due

func (d dueIndex) DueOn(_ context.Context, day string) ([]holder.Due, error) { return d[day], nil }
