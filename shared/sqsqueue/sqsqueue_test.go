package sqsqueue

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

type sendFake struct {
	in  []*sqs.SendMessageInput
	err error
}

func (f *sendFake) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.in = append(f.in, in)
	return &sqs.SendMessageOutput{}, f.err
}

type message struct {
	ID string `json:"id"`
}

func TestSenderPutsTheMessageAsJSON(t *testing.T) {
	f := &sendFake{}
	q := &Sender[message]{SQS: f, QueueURL: "https://q/commands", What: "command"}
	if err := q.Send(context.Background(), message{ID: "r1"}); err != nil {
		t.Fatal(err)
	}
	if len(f.in) != 1 || aws.ToString(f.in[0].QueueUrl) != "https://q/commands" || aws.ToString(f.in[0].MessageBody) != `{"id":"r1"}` {
		t.Fatalf("sent %+v", f.in)
	}
	f.err = errors.New("throttled")
	err := q.Send(context.Background(), message{ID: "r2"})
	if !errors.Is(err, f.err) || !strings.HasPrefix(err.Error(), "send command: ") {
		t.Fatalf("a refused send: %v", err)
	}
}

type attrsFake map[string]string

func (f attrsFake) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{Attributes: f}, nil
}

func TestDepthCountsVisibleAndInFlight(t *testing.T) {
	d := &Depth{SQS: attrsFake{"ApproximateNumberOfMessages": "7", "ApproximateNumberOfMessagesNotVisible": "3"}}
	if n, err := d.Depth(context.Background()); err != nil || n != 10 {
		t.Fatalf("depth %d, %v", n, err)
	}
	d = &Depth{SQS: attrsFake{"ApproximateNumberOfMessages": "7"}}
	if _, err := d.Depth(context.Background()); err == nil {
		t.Fatal("a missing attribute is an error")
	}
}

func TestQueuePutsTheBodyDelayedInWholeSecondsUpToSQSsBound(t *testing.T) {
	f := &sendFake{}
	q := &Queue{SQS: f, QueueURL: "https://q/notices"}
	for _, d := range []time.Duration{0, 30 * time.Second, 1500 * time.Millisecond, time.Hour} {
		if err := q.Put(context.Background(), `{"noticeId":"n1"}`, d); err != nil {
			t.Fatal(err)
		}
	}
	var delays []int32
	for _, in := range f.in {
		if aws.ToString(in.MessageBody) != `{"noticeId":"n1"}` || aws.ToString(in.QueueUrl) != "https://q/notices" {
			t.Fatalf("sent %+v", in)
		}
		delays = append(delays, in.DelaySeconds)
	}
	if want := []int32{0, 30, 1, 900}; !slices.Equal(delays, want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
}
