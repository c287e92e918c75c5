package lifecycle

import (
	"context"
	"errors"
	"testing"

	"github.com/pccc/pccc/shared/holder"
)

// fakeNotifier records the notices the worker queues; err fails the next.
type fakeNotifier struct {
	sent []string // requestID/kind/phone
	err  error
}

func (f *fakeNotifier) CodeChanged(_ context.Context, hk, phone, requestID string, k holder.Kind) error {
	if f.err != nil {
		err := f.err
		f.err = nil
		return err
	}
	f.sent = append(f.sent, requestID+"/"+string(k)+"/"+phone)
	return nil
}

// statusOf answers a request's status from a map.
type statusOf map[string]string

func (s statusOf) Get(_ context.Context, id string) (holder.Request, error) {
	st, ok := s[id]
	if !ok {
		return holder.Request{}, holder.ErrNoRequest
	}
	return holder.Request{ID: id, Status: st}, nil
}

// Every change applied queues the holder's notice, and so does every
// later delivery of it (deduplicated downstream by request id): a worker
// that dies, or fails to queue the notice, after the transaction loses
// nothing. A command refused outright gets none.
func TestWorkerNotifiesEveryChange(t *testing.T) {
	ctx := context.Background()
	st, rq, n := &fakeStore{}, &fakeRequests{}, &fakeNotifier{}
	status := statusOf{}
	w := worker(st, rq)
	w.Notify, w.Status = n, status

	issue := Message{RequestID: "r1", Kind: holder.Issue, Actor: holder.ByHolder, HolderKey: "hk", Sealed: map[string]string{"phone": "sealed-1"}}
	if err := w.Execute(ctx, issue); err != nil {
		t.Fatal(err)
	}
	if len(n.sent) != 1 || n.sent[0] != "r1/issue/sealed-1" {
		t.Fatalf("issue: %v", n.sent)
	}

	// The notice could not be queued: the command is retried, and the
	// retry (the change already applied) queues it.
	n.err = errors.New("sqs down")
	suspend := Message{RequestID: "r2", Kind: holder.Suspend, Actor: holder.ByHolder, HolderKey: "hk"}
	if err := w.Execute(ctx, suspend); !errors.Is(err, ErrNotice) {
		t.Fatalf("a lost notice must be retried: %v", err)
	}
	status["r2"] = holder.RequestSucceeded
	if err := w.Execute(ctx, suspend); err != nil {
		t.Fatal(err)
	}
	if len(st.applied) != 2 || len(n.sent) != 2 || n.sent[1] != "r2/suspend/sealed-1" {
		t.Fatalf("after the redelivery: applied %d, notices %v", len(st.applied), n.sent)
	}

	// The transaction finds the request done (ErrApplied): noticed again.
	st.errs = []error{holder.ErrApplied}
	if err := w.Execute(ctx, Message{RequestID: "r3", Kind: holder.Update, Actor: holder.ByHolder, HolderKey: "hk"}); err != nil {
		t.Fatal(err)
	}
	if len(n.sent) != 3 || n.sent[2] != "r3/update/sealed-1" {
		t.Fatalf("a duplicate found applied: %v", n.sent)
	}

	// A command refused outright (its request failed): no notice.
	status["r4"] = holder.RequestFailed
	if err := w.Execute(ctx, Message{RequestID: "r4", Kind: holder.Suspend, Actor: holder.ByHolder, HolderKey: "hk"}); err != nil {
		t.Fatal(err)
	}
	if len(n.sent) != 3 || rq.failed["r4"] == "" {
		t.Fatalf("a refusal was noticed: %v", n.sent)
	}

	// A change of phone is told to the phone registered before it.
	if err := w.Execute(ctx, Message{RequestID: "r5", Kind: holder.Update, Actor: holder.ByHolder, HolderKey: "hk", Sealed: map[string]string{"phone": "sealed-2"}}); err != nil {
		t.Fatal(err)
	}
	if n.sent[len(n.sent)-1] != "r5/update/sealed-1" || st.holder.Sealed["phone"] != "sealed-2" {
		t.Fatalf("update: %v, holder %v", n.sent, st.holder.Sealed)
	}
}

// At the last receive a change whose notice still cannot be queued is not
// reported failed: the change stands, and it must not reach the dead-
// letter queue as a command that failed.
func TestWorkerLostNoticeAtLastReceive(t *testing.T) {
	st, rq := &fakeStore{}, &fakeRequests{}
	w := worker(st, rq)
	w.Notify, w.Status = &fakeNotifier{err: errors.New("sqs down")}, statusOf{}
	issue := body(Message{RequestID: "r1", Kind: holder.Issue, Actor: holder.ByHolder, HolderKey: "hk", Sealed: map[string]string{"phone": "sealed"}})
	resp, err := w.Handle(context.Background(), sqsEvent("5", issue))
	if err != nil || len(resp.BatchItemFailures) != 0 || len(st.applied) != 1 || rq.failed["r1"] != "" {
		t.Fatalf("resp %+v err %v applied %d failed %v", resp, err, len(st.applied), rq.failed)
	}
	w.Notify = &fakeNotifier{err: errors.New("sqs down")}
	resp, _ = w.Handle(context.Background(), sqsEvent("2", body(Message{RequestID: "r2", Kind: holder.Suspend, Actor: holder.ByHolder, HolderKey: "hk"})))
	if len(resp.BatchItemFailures) != 1 {
		t.Fatalf("before the last receive a lost notice is retried: %+v", resp)
	}
}
