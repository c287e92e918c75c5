package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/sealer"
)

type fakeProvider struct {
	mu     sync.Mutex
	failTo map[string]bool
	sent   []string
}

// Send is called from the batch's concurrent sends.
func (p *fakeProvider) Send(_ context.Context, to, text string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failTo[to] {
		return errors.New("gateway down for this number")
	}
	p.sent = append(p.sent, to+"|"+text)
	return nil
}

type fakeDeliveries struct {
	mu           sync.Mutex
	failed, late []string
}

func (d *fakeDeliveries) MarkDeliveryFailed(_ context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.failed = append(d.failed, id)
	return nil
}

func (d *fakeDeliveries) MarkDeliveryLate(_ context.Context, id string, send int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.late = append(d.late, fmt.Sprintf("%s#%d", id, send))
	return nil
}

func TestSenderReportsOnlyFailedMessages(t *testing.T) {
	seal, err := sealer.New(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	envelope := func(id, to string) string {
		msg, _ := json.Marshal(identity.SMS{To: to, Text: "code 123456"})
		sealed, err := seal.Seal(identity.SMSAAD(id), msg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(Envelope{VerificationID: id, Sealed: sealed})
		return string(b)
	}
	good := envelope("v1", "01000000001")
	failing := envelope("v2", "01000000002")
	// A sealed message moved onto another verification does not open.
	var env Envelope
	_ = json.Unmarshal([]byte(good), &env)
	env.VerificationID = "v3"
	moved, _ := json.Marshal(env)
	records := []events.SQSMessage{
		{MessageId: "m-good", Body: good, Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
		{MessageId: "m-fail", Body: failing, Attributes: map[string]string{"ApproximateReceiveCount": "2"}},
		{MessageId: "m-fail-last", Body: failing, Attributes: map[string]string{"ApproximateReceiveCount": "5"}},
		{MessageId: "m-poison", Body: `not json`, Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
		{MessageId: "m-moved", Body: string(moved), Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
	}
	var logs bytes.Buffer
	provider := &fakeProvider{failTo: map[string]bool{"01000000002": true}}
	deliveries := &fakeDeliveries{}
	s := &Sender{Provider: provider, Opener: seal, Deliveries: deliveries, MaxReceives: 5,
		Log: slog.New(slog.NewJSONHandler(io.MultiWriter(&logs), nil))}

	// Invoke as Lambda would, with the event as JSON.
	payload, _ := json.Marshal(events.SQSEvent{Records: records})
	out, err := lambda.NewHandler(s.Handle).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if strings.Join(failed, ",") != "m-fail,m-fail-last,m-poison,m-moved" {
		t.Fatalf("failures %v", failed)
	}
	if len(provider.sent) != 1 || provider.sent[0] != "01000000001|code 123456" {
		t.Fatalf("sent %v", provider.sent)
	}
	// Only the message on its last receive marks its verification.
	if strings.Join(deliveries.failed, ",") != "v2" {
		t.Fatalf("marked %v", deliveries.failed)
	}
	for _, secret := range []string{"01000000001", "01000000002", "123456"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("log holds %q", secret)
		}
	}
	if !strings.Contains(logs.String(), strconv.Quote("m-poison")) {
		t.Fatalf("the failed message ids should be logged: %s", logs.String())
	}
}

// barrierProvider takes a send only once n sends are in flight together.
type barrierProvider struct {
	mu      sync.Mutex
	arrived int
	all     chan struct{}
	n       int
}

func (p *barrierProvider) Send(ctx context.Context, _, _ string) error {
	p.mu.Lock()
	p.arrived++
	if p.arrived == p.n {
		close(p.all)
	}
	p.mu.Unlock()
	select {
	case <-p.all:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// grantingBucket gives every take what it asks, and records the asks.
type grantingBucket struct{ wants []int }

func (b *grantingBucket) Take(_ context.Context, want int, _ float64) (int, time.Duration, error) {
	b.wants = append(b.wants, want)
	return want, 0, nil
}
func (*grantingBucket) Burst() float64 { return 12 }

type batchFacts struct {
	calls, facts int
}

func (f *batchFacts) Record(context.Context, Fact) { f.calls++; f.facts++ }
func (f *batchFacts) RecordAll(_ context.Context, facts []Fact) {
	f.calls++
	f.facts += len(facts)
}

// A batch's sends run side by side (the provider here takes none until all
// ten are in flight: one at a time, the batch would never end), its tokens
// are taken in one ask for the whole batch when the bucket has them, and
// its counts are handed over once.
func TestSenderSendsABatchSideBySide(t *testing.T) {
	seal, _ := sealer.New(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1")
	p := &barrierProvider{all: make(chan struct{}), n: 10}
	b := &grantingBucket{}
	facts := &batchFacts{}
	s := &Sender{Provider: p, ProviderKind: ProviderAWS, Opener: seal, Deliveries: &fakeDeliveries{}, MaxReceives: 5,
		Log: slog.New(slog.DiscardHandler), Rate: b, Facts: facts, CodeTTL: 3 * time.Minute, DeliveryMargin: 30 * time.Second}
	var recs []events.SQSMessage
	for i := range 10 {
		recs = append(recs, msg(fmt.Sprint(i), "1", codeMessage(t, seal, fmt.Sprintf("v%d", i), 1, time.Now().Add(2*time.Minute))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, _ := s.Handle(ctx, events.SQSEvent{Records: recs})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("sends one at a time, or failed: %+v", resp)
	}
	if fmt.Sprint(b.wants) != "[10]" {
		t.Fatalf("takes %v, want one of 10", b.wants)
	}
	if facts.calls != 1 || facts.facts != 10 {
		t.Fatalf("counts handed over %d times for %d facts", facts.calls, facts.facts)
	}
}

// A failed code comes back after 2 s, 4 s, 8 s...: its five receives fit
// well inside its validity; an unreadable one keeps the queue's timeout.
func TestCodeBackoff(t *testing.T) {
	for _, c := range []struct {
		receives string
		err      error
		want     time.Duration
	}{
		{"1", errors.New("provider down"), 2 * time.Second},
		{"3", errors.New("provider down"), 8 * time.Second},
		{"5", errors.New("provider down"), 30 * time.Second},
		{"1", errPoison, 0},
		{"2", errors.Join(errPoison, errors.New("mark failed")), 0},
	} {
		if got := CodeBackoff(msg("m", c.receives, ""), c.err); got != c.want {
			t.Errorf("receive %s, %v: %v, want %v", c.receives, c.err, got, c.want)
		}
	}
}
