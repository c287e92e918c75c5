package sqsbatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
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

type visibilityCalls struct {
	mu    sync.Mutex
	calls []string
}

func (v *visibilityCalls) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls = append(v.calls, fmt.Sprintf("%s %s %d", *in.QueueUrl, *in.ReceiptHandle, in.VisibilityTimeout))
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// A failed message of a queue Retry knows is made visible again after its
// backoff (doubling with its receives, capped); a message that succeeded,
// or one from a queue Retry does not name, is left alone. ProcessStaged
// runs the finishes side by side: here each waits for all the others, so
// run one after another they would never end.
func TestRetryAndStagedFinishes(t *testing.T) {
	vis := &visibilityCalls{}
	p := &Processor{Name: "thing", MaxReceives: 5, Log: slog.New(slog.DiscardHandler), Retry: &Retry{
		SQS: vis, QueueURLs: []string{"http://q/1/other", "http://q/1/codes"}, Backoff: Doubling(2*time.Second, 30*time.Second),
	}}
	rec := func(id, queue, receives string) events.SQSMessage {
		return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, EventSourceARN: "arn:aws:sqs:r:1:" + queue,
			Attributes: map[string]string{"ApproximateReceiveCount": receives}}
	}
	ev := events.SQSEvent{Records: []events.SQSMessage{
		rec("ok", "codes", "1"), rec("first", "codes", "1"), rec("third", "codes", "3"), rec("last", "codes", "5"),
		rec("unknown-queue", "notices", "1"), rec("start-fails", "codes", "2"),
	}}
	var all sync.WaitGroup
	all.Add(len(ev.Records) - 1)
	resp := p.ProcessStaged(context.Background(), ev, func(_ context.Context, m events.SQSMessage) (Finish, error) {
		if m.MessageId == "start-fails" {
			return nil, errors.New("no")
		}
		return func(context.Context) error {
			all.Done()
			all.Wait()
			if m.MessageId == "ok" {
				return nil
			}
			return errors.New("no")
		}, nil
	})
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	if strings.Join(failed, ",") != "first,third,last,unknown-queue,start-fails" {
		t.Fatalf("failures %v", failed)
	}
	want := "http://q/1/codes rh-first 2,http://q/1/codes rh-third 8,http://q/1/codes rh-last 30,http://q/1/codes rh-start-fails 4"
	if got := strings.Join(vis.calls, ","); got != want {
		t.Fatalf("visibility changes\n%s\nwant\n%s", got, want)
	}
}
