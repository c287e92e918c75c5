package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/sealer"
)

// fakeLedger keeps notice states as dynamo.NoticeStore does (without the
// claim's lease).
type fakeLedger struct {
	mu    sync.Mutex
	state map[string]string
}

func (f *fakeLedger) Claim(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.state[id]; s == "sending" || s == "sent" {
		return false, nil
	}
	f.state[id] = "sending"
	return true, nil
}
func (f *fakeLedger) Sent(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state[id] = "sent"
	return nil
}
func (f *fakeLedger) Release(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state[id] = "released"
	return nil
}

type fakeQueue struct{ bodies []string }

func (f *fakeQueue) Put(_ context.Context, body string, _ time.Duration) error {
	f.bodies = append(f.bodies, body)
	return nil
}

func msg(id, receives, body string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, Body: body, Attributes: map[string]string{"ApproximateReceiveCount": receives}}
}

// The outbox carries verification codes as before and holder notices
// beside them: a message written by the old outbox still sends, and a
// verification envelope reads the same as it did.
func TestEnvelopeCompatibility(t *testing.T) {
	seal, _ := sealer.New(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	plain, _ := json.Marshal(identity.SMS{To: "01000000001", Text: "code 123456"})
	sealed, _ := seal.Seal(identity.SMSAAD("v1"), plain)
	q := &fakeQueue{}
	o := &Outbox{Queue: q}
	if err := o.Enqueue(context.Background(), identity.QueuedCode{VerificationID: "v1", Sealed: sealed}); err != nil {
		t.Fatal(err)
	}
	if want := `{"verificationId":"v1","sealed":"` + sealed + `"}`; q.bodies[0] != want {
		t.Fatalf("verification envelope %s, was %s", q.bodies[0], want)
	}
	if err := o.EnqueueNotice(context.Background(), "n1", "hk", "v1.k1.x", "text", "text en"); err != nil {
		t.Fatal(err)
	}
	if want := `{"noticeId":"n1","holderKey":"hk","phone":"v1.k1.x","text":"text","textEn":"text en"}`; q.bodies[1] != want {
		t.Fatalf("notice envelope %s", q.bodies[1])
	}
	p := &fakeProvider{}
	s := &Sender{Provider: p, Opener: seal, Deliveries: &fakeDeliveries{}, Notices: &fakeLedger{state: map[string]string{}},
		MaxReceives: 5, Log: slog.New(slog.DiscardHandler)}
	resp, _ := s.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{msg("old", "1", q.bodies[0])}})
	if len(resp.BatchItemFailures) != 0 || len(p.sent) != 1 || p.sent[0] != "01000000001|code 123456" {
		t.Fatalf("an old verification message: %+v %v", resp, p.sent)
	}
}

// A notice goes to the phone sealed in the holder item, once, however
// often it is queued; a failed send is retried, and at its last receive
// marks no verification; a notice for nobody is dropped; a notice whose
// phone does not open is poison. No phone in any log line.
func TestSenderSendsEachNoticeOnce(t *testing.T) {
	ctx := context.Background()
	seal, _ := sealer.New(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	notice := func(id, hk, phone string) string {
		sp, err := seal.Seal(holder.FieldAAD(hk, holder.FieldPhone), []byte(phone))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(Envelope{NoticeID: id, HolderKey: hk, Phone: sp, Text: "notice text"})
		return string(b)
	}
	var logs bytes.Buffer
	p := &fakeProvider{failTo: map[string]bool{"01000000009": true}}
	d := &fakeDeliveries{}
	ledger := &fakeLedger{state: map[string]string{}}
	s := &Sender{Provider: p, Opener: seal, Deliveries: d, Notices: ledger, MaxReceives: 5,
		Log: slog.New(slog.NewJSONHandler(&logs, nil))}

	good := notice("n1", "hk1", "01000000001")
	// The same notice three times, once as a redelivery in another batch.
	resp, _ := s.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{msg("a", "1", good), msg("b", "1", good)}})
	resp2, _ := s.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{msg("c", "2", good)}})
	if len(resp.BatchItemFailures)+len(resp2.BatchItemFailures) != 0 || len(p.sent) != 1 || p.sent[0] != "01000000001|notice text" {
		t.Fatalf("sent %v, failures %+v %+v", p.sent, resp, resp2)
	}

	// Another holder's item: the sealed phone does not open under it.
	var env Envelope
	_ = json.Unmarshal([]byte(good), &env)
	env.NoticeID, env.HolderKey = "n2", "hk2"
	moved, _ := json.Marshal(env)
	failing := notice("n3", "hk3", "01000000009")
	// Another notice to the same phone (the batch's sends run side by
	// side: one notice twice in a batch is sent by the one that claims it).
	failingToo := notice("n5", "hk3", "01000000009")
	nobody, _ := json.Marshal(Envelope{NoticeID: "n4", Text: "notice text"})
	resp, _ = s.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{
		msg("moved", "1", string(moved)), msg("fail", "1", failing), msg("fail-last", "5", failingToo), msg("nobody", "1", string(nobody)),
	}})
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if strings.Join(failed, ",") != "moved,fail,fail-last" {
		t.Fatalf("failures %v", failed)
	}
	if ledger.state["n3"] != "released" || ledger.state["n5"] != "released" || len(d.failed) != 0 || len(p.sent) != 1 {
		t.Fatalf("a failed notice: ledger %v, marked %v, sent %v", ledger.state, d.failed, p.sent)
	}
	// Once the provider is back, the released notice goes out.
	p.failTo = nil
	if resp, _ := s.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{msg("fail", "2", failing)}}); len(resp.BatchItemFailures) != 0 || len(p.sent) != 2 {
		t.Fatalf("retry: %+v %v", resp, p.sent)
	}
	for _, secret := range []string{"01000000001", "01000000009", "notice text"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("log holds %q: %s", secret, logs.String())
		}
	}
	if !strings.Contains(logs.String(), `"noticeId":"n1"`) {
		t.Fatalf("the notice id should be logged: %s", logs.String())
	}
}

// A ledger that fails: the send is not attempted without a claim.
type brokenLedger struct{ fakeLedger }

func (*brokenLedger) Claim(context.Context, string) (bool, error) {
	return false, errors.New("table down")
}

func TestSenderNeedsTheClaim(t *testing.T) {
	seal, _ := sealer.New(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	sp, _ := seal.Seal(holder.FieldAAD("hk", holder.FieldPhone), []byte("01000000001"))
	b, _ := json.Marshal(Envelope{NoticeID: "n1", HolderKey: "hk", Phone: sp, Text: "t"})
	p := &fakeProvider{}
	s := &Sender{Provider: p, Opener: seal, Deliveries: &fakeDeliveries{}, Notices: &brokenLedger{}, MaxReceives: 5, Log: slog.New(slog.DiscardHandler)}
	resp, _ := s.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{msg("a", "1", string(b))}})
	if len(resp.BatchItemFailures) != 1 || len(p.sent) != 0 {
		t.Fatalf("%+v %v", resp, p.sent)
	}
}

type fakeLanguages map[string]string

func (f fakeLanguages) SealedLanguage(_ context.Context, hk string) (string, error) {
	return f[hk], nil
}

// A notice goes in the language its holder chose, read (sealed, as the
// holder item keeps it) when it is sent: English for "en", Korean for a
// holder who chose Korean or nothing; a notice with no English (queued
// before there was one) goes in Korean.
func TestNoticeInTheHoldersLanguage(t *testing.T) {
	seal, _ := sealer.New(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	lang := func(hk, l string) string {
		v, _ := seal.Seal(holder.FieldAAD(hk, holder.FieldLanguage), []byte(l))
		return v
	}
	langs := fakeLanguages{"hk-en": lang("hk-en", "en"), "hk-ko": lang("hk-ko", "ko"), "hk-moved": lang("hk-en", "en")}
	p := &fakeProvider{}
	s := &Sender{Provider: p, Opener: seal, Deliveries: &fakeDeliveries{}, Notices: &fakeLedger{state: map[string]string{}},
		MaxReceives: 5, Log: slog.New(slog.DiscardHandler), Languages: langs}
	var recs []events.SQSMessage
	for i, c := range []struct{ hk, en string }{{"hk-en", "EN"}, {"hk-ko", "EN"}, {"hk-none", "EN"}, {"hk-moved", "EN"}, {"hk-en", ""}} {
		sp, _ := seal.Seal(holder.FieldAAD(c.hk, holder.FieldPhone), []byte("0100000000"+string(rune('0'+i))))
		b, _ := json.Marshal(Envelope{NoticeID: "n" + string(rune('0'+i)), HolderKey: c.hk, Phone: sp, Text: "KO", TextEn: c.en})
		recs = append(recs, msg(string(rune('a'+i)), "1", string(b)))
	}
	resp, _ := s.Handle(context.Background(), events.SQSEvent{Records: recs})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%+v", resp)
	}
	slices.Sort(p.sent) // sent side by side, in no set order
	if got := strings.Join(p.sent, ","); got != "01000000000|EN,01000000001|KO,01000000002|KO,01000000003|KO,01000000004|KO" {
		t.Fatalf("sent %s", got)
	}
}
