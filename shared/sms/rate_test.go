package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/sealer"
	"github.com/pccc/pccc/shared/testkit"
)

// emptyBucket never has a token: the provider's rate is spent elsewhere.
type emptyBucket struct{ takes int }

func (b *emptyBucket) Take(context.Context, int, float64) (int, time.Duration, error) {
	b.takes++
	return 0, 50 * time.Millisecond, nil
}
func (*emptyBucket) Burst() float64 { return 3 }

// delayQueue records what is put back and with which delay.
type delayQueue struct {
	bodies []string
	delays []time.Duration
}

func (f *delayQueue) Put(_ context.Context, body string, delay time.Duration) error {
	f.bodies = append(f.bodies, body)
	f.delays = append(f.delays, delay)
	return nil
}

func codeMessage(t *testing.T, seal *sealer.Sealer, id string, send int, exp time.Time) string {
	t.Helper()
	plain, _ := json.Marshal(identity.SMS{To: "01000000001", Text: "code 123456"})
	sealed, err := seal.Seal(identity.SMSAAD(id), plain)
	if err != nil {
		t.Fatal(err)
	}
	q := &fakeQueue{}
	if err := (&Outbox{Queue: q}).Enqueue(context.Background(), identity.QueuedCode{VerificationID: id, Sealed: sealed, Send: send, ExpiresAt: exp}); err != nil {
		t.Fatal(err)
	}
	return q.bodies[0]
}

// A code that could no longer reach the phone with the delivery margin of
// its validity left is not sent: it is counted as late, its send (and no
// other) is marked on the verification, and the message is done with, not
// retried. One still in time is sent and counted with its parts.
func TestLateCodesAreDroppedAndMarked(t *testing.T) {
	seal, _ := sealer.New(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	clock := testkit.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	p := &fakeProvider{}
	d := &fakeDeliveries{}
	var logs bytes.Buffer
	s := &Sender{Provider: p, ProviderKind: ProviderAWS, Opener: seal, Deliveries: d, MaxReceives: 5,
		Log: slog.New(slog.NewJSONHandler(&logs, nil)), CodeTTL: 3 * time.Minute, DeliveryMargin: 30 * time.Second, Now: clock.Now}
	before := Tallies()
	late := codeMessage(t, seal, "v-late", 2, clock.Now().Add(29*time.Second))
	ok := codeMessage(t, seal, "v-ok", 1, clock.Now().Add(31*time.Second))
	resp, _ := s.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{msg("late", "1", late), msg("ok", "1", ok)}})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("a late code is done with, not retried: %+v", resp)
	}
	if len(p.sent) != 1 || strings.Join(d.late, ",") != "v-late#2" || len(d.failed) != 0 {
		t.Fatalf("sent %v, late %v, failed %v", p.sent, d.late, d.failed)
	}
	after := Tallies()
	if after.CodesLate-before.CodesLate != 1 || after.CodesSent-before.CodesSent != 1 || after.Parts-before.Parts != 1 {
		t.Fatalf("tallies %+v then %+v", before, after)
	}
	if !strings.Contains(logs.String(), `"outcome":"late"`) || strings.Contains(logs.String(), "123456") {
		t.Fatalf("log: %s", logs.String())
	}
}

// With the rate spent (codes ahead of them), a code waits for a token only
// until it would be late, then is dropped; a notice waits NoticeWait and
// is put back on its queue, delayed, without being claimed or failed, so it
// keeps its place towards the dead-letter queue.
func TestWithoutAShareOfTheRate(t *testing.T) {
	seal, _ := sealer.New(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	p := &fakeProvider{}
	d := &fakeDeliveries{}
	ledger := &fakeLedger{state: map[string]string{}}
	q := &delayQueue{}
	b := &emptyBucket{}
	s := &Sender{Provider: p, ProviderKind: ProviderAWS, Opener: seal, Deliveries: d, Notices: ledger, MaxReceives: 5,
		Log: slog.New(slog.DiscardHandler), Rate: b, CodeTTL: 3 * time.Minute, DeliveryMargin: 30 * time.Second,
		NoticeWait: 100 * time.Millisecond, NoticeDelay: 30 * time.Second, NoticeQueue: &Outbox{Queue: q}}
	code := codeMessage(t, seal, "v1", 1, time.Now().Add(30*time.Second+150*time.Millisecond))
	sp, _ := seal.Seal(holder.FieldAAD("hk", holder.FieldPhone), []byte("01000000002"))
	notice, _ := json.Marshal(Envelope{NoticeID: "n1", HolderKey: "hk", Phone: sp, Text: "notice"})
	start := time.Now()
	resp, _ := s.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{msg("c", "1", code), msg("n", "1", string(notice))}})
	if len(resp.BatchItemFailures) != 0 || len(p.sent) != 0 {
		t.Fatalf("%+v, sent %v", resp, p.sent)
	}
	if strings.Join(d.late, ",") != "v1#1" {
		t.Fatalf("late %v", d.late)
	}
	if len(q.bodies) != 1 || q.bodies[0] != string(notice) || q.delays[0] != 30*time.Second || len(ledger.state) != 0 {
		t.Fatalf("put back %v %v, ledger %v", q.bodies, q.delays, ledger.state)
	}
	if took := time.Since(start); took > 2*time.Second || b.takes < 2 {
		t.Fatalf("waited %v over %d takes", took, b.takes)
	}
}
