package sqsqueue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// BatchAPI is the part of the SQS client SendBatch uses.
type BatchAPI interface {
	SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// MaxBatch is SendMessageBatch's limit of entries a call.
const MaxBatch = 10

// sendAttempts bounds the calls one group of entries gets: a 200 with
// failed entries is answered by sending those entries again, and only
// those, after a short jittered wait.
const sendAttempts = 6

// SendBatch puts bodies on a queue, ten a call, each delayed by delay.
// SQS may take a call and still refuse some of its entries (a 200 with
// Failed entries): those, and only those, are sent again; an entry
// refused for the sender's fault (SenderFault) is not retried. It returns
// an error when any entry is still not sent after its attempts: the caller
// sends again what it has not seen taken (the receiver is idempotent).
func SendBatch(ctx context.Context, api BatchAPI, queueURL string, bodies []string, delay time.Duration) error {
	for start := 0; start < len(bodies); start += MaxBatch {
		group := bodies[start:min(start+MaxBatch, len(bodies))]
		pending := map[string]string{}
		for i, b := range group {
			pending[strconv.Itoa(i)] = b
		}
		var last error
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt == sendAttempts {
				return fmt.Errorf("send batch: %d entries still refused after %d attempts: %w", len(pending), sendAttempts, last)
			}
			if attempt > 0 {
				time.Sleep(time.Duration(rand.Int64N(int64(20*time.Millisecond) * int64(attempt))))
			}
			in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL)}
			for id, b := range pending {
				e := types.SendMessageBatchRequestEntry{Id: aws.String(id), MessageBody: aws.String(b)}
				if delay > 0 {
					e.DelaySeconds = int32(min(delay, 15*time.Minute) / time.Second)
				}
				in.Entries = append(in.Entries, e)
			}
			out, err := api.SendMessageBatch(ctx, in)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				last = err
				continue // the whole call: every entry again
			}
			for _, ok := range out.Successful {
				delete(pending, aws.ToString(ok.Id))
			}
			for _, f := range out.Failed {
				last = fmt.Errorf("entry refused: %s", aws.ToString(f.Code))
				if f.SenderFault {
					return errors.New("send batch: an entry was refused as malformed: " + aws.ToString(f.Code))
				}
			}
		}
	}
	return nil
}
