// Package sqsqueue is the SQS adapter of the domain's queue ports: a
// command or message put on a queue as JSON (Sender), a body put on a
// queue as it is, delayed or not (Queue: the SMS outboxes), a batch of
// bodies put on a queue ten a call (SendBatch), and a queue's backlog read
// for admission control (Depth). The messages' formats are the domain's
// (lifecycle.Message, ...): a Sender is made for one in the wiring, so this
// package imports none of the packages whose ports it fills. Taking
// messages off a queue is shared/sqsbatch's.
package sqsqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SendAPI is the part of the SQS client a Sender uses.
type SendAPI interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Sender puts messages of type M on one queue, each as its JSON body: the
// command queue's lifecycle.Message (lifecycle.Queue).
type Sender[M any] struct {
	SQS      SendAPI
	QueueURL string
	// What names the messages in errors ("command": "send command: ...").
	What string
}

// Send puts m on the queue.
func (q *Sender[M]) Send(ctx context.Context, m M) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = q.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.QueueURL), MessageBody: aws.String(string(body))})
	if err != nil {
		return fmt.Errorf("send %s: %w", q.what(), err)
	}
	return nil
}

func (q *Sender[M]) what() string {
	if q.What == "" {
		return "message"
	}
	return q.What
}

// Queue puts bodies on one queue as they are (sms.Queue).
type Queue struct {
	SQS      SendAPI
	QueueURL string
}

// MaxDelay is the longest SQS holds a message back.
const MaxDelay = 15 * time.Minute

// Put puts body on the queue, delivered after delay (at most MaxDelay, in
// whole seconds; 0 at once). The error is the client's.
func (q *Queue) Put(ctx context.Context, body string, delay time.Duration) error {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(q.QueueURL), MessageBody: aws.String(body)}
	if delay > 0 {
		in.DelaySeconds = int32(min(delay, MaxDelay) / time.Second)
	}
	_, err := q.SQS.SendMessage(ctx, in)
	return err
}

// AttributesAPI is the part of the SQS client Depth uses.
type AttributesAPI interface {
	GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Depth reads a queue's depth: visible messages plus those being worked
// on (admission.Depth).
type Depth struct {
	SQS      AttributesAPI
	QueueURL string
}

// Depth implements admission.Depth.
func (q *Depth) Depth(ctx context.Context) (int, error) {
	out, err := q.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(q.QueueURL),
		AttributeNames: []sqstypes.QueueAttributeName{
			sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, fmt.Errorf("queue depth: %w", err)
	}
	total := 0
	for _, name := range []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages,
		sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	} {
		n, err := strconv.Atoi(out.Attributes[string(name)])
		if err != nil {
			return 0, errors.New("queue depth: attribute missing or not a number")
		}
		total += n
	}
	return total, nil
}
