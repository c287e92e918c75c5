package sqsbatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestProcessReportsOnlyFailures(t *testing.T) {
	var logs bytes.Buffer
	p := &Processor{Name: "thing", MaxReceives: 3, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "a", Body: "ok"},
		{MessageId: "b", Body: "secret-body-1", Attributes: map[string]string{"ApproximateReceiveCount": "2"}},
		{MessageId: "c", Body: "ok"},
		{MessageId: "d", Body: "secret-body-2", Attributes: map[string]string{"ApproximateReceiveCount": "3"}},
	}}
	var last []string
	resp := p.Process(context.Background(), ev, func(_ context.Context, m events.SQSMessage) error {
		if p.LastReceive(m) {
			last = append(last, m.MessageId)
		}
		if m.Body != "ok" {
			return errors.New("no")
		}
		return nil
	})
	b, _ := json.Marshal(resp)
	if string(b) != `{"batchItemFailures":[{"itemIdentifier":"b"},{"itemIdentifier":"d"}]}` {
		t.Fatalf("response %s", b)
	}
	if strings.Join(last, ",") != "d" {
		t.Fatalf("last receives %v", last)
	}
	if strings.Contains(logs.String(), "secret-body") {
		t.Fatal("a message body reached the log")
	}
	// An empty batch answers an empty list, which Lambda reads as "all done".
	b, _ = json.Marshal(p.Process(context.Background(), events.SQSEvent{}, nil))
	if string(b) != `{"batchItemFailures":[]}` {
		t.Fatalf("empty batch %s", b)
	}
}
