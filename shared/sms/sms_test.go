package sms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/sealer"
)

type fakeProvider struct {
	failTo map[string]bool
	sent   []string
}

func (p *fakeProvider) Send(_ context.Context, to, text string) error {
	if p.failTo[to] {
		return errors.New("gateway down for this number")
	}
	p.sent = append(p.sent, to+"|"+text)
	return nil
}

type fakeDeliveries struct{ failed []string }

func (d *fakeDeliveries) MarkDeliveryFailed(_ context.Context, id string) error {
	d.failed = append(d.failed, id)
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
