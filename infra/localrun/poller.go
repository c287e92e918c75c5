package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pccc/pccc/infra/samtemplate"
)

// pollerGroup is one SQS event source mapping: a few pollers sharing a
// queue and a function, like Lambda's pollers.
type pollerGroup struct {
	samtemplate.SQSSource
	fn      *function
	queue   queueInfo
	pollers int
}

func (r *Runner) buildPollers() error {
	for _, f := range r.tpl.Functions {
		for _, s := range f.SQSSources {
			q, ok := r.names.queues[s.Queue]
			if !ok {
				return fmt.Errorf("function %s event %s: queue %s was not created", f.LogicalID, s.Event, s.Queue)
			}
			n := s.MaximumConcurrency
			if n == 0 {
				n = r.opts.DefaultPollers
			}
			if r.opts.MaxPollers > 0 {
				n = min(n, r.opts.MaxPollers)
			}
			r.pollers = append(r.pollers, &pollerGroup{SQSSource: s, fn: r.functions[f.LogicalID], queue: q, pollers: n})
		}
	}
	return nil
}

func (r *Runner) startPollers() {
	for _, g := range r.pollers {
		if !g.Enabled {
			continue
		}
		for i := 0; i < g.pollers; i++ {
			r.wg.Add(1)
			r.active.Add(1)
			go func() {
				defer r.wg.Done()
				defer r.active.Add(-1)
				r.poll(g)
			}()
		}
	}
}

// poll receives batches until Close. Receives use the runner's background
// context, so Close cuts a long poll short; an invocation under way runs to
// its end and its deletes still happen.
func (r *Runner) poll(g *pollerGroup) {
	for r.bg.Err() == nil {
		msgs, err := r.receiveBatch(r.bg, g)
		if err != nil {
			if r.bg.Err() != nil {
				return
			}
			r.log.Warn("sqs receive failed", "function", g.fn.id, "queue", g.Queue, "err", err.Error())
			select {
			case <-r.bg.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		if len(msgs) > 0 {
			r.processBatch(g, msgs)
		}
	}
}

// receiveBatch long-polls for up to BatchSize messages; with a batching
// window it keeps receiving until the batch is full or the window closes.
func (r *Runner) receiveBatch(ctx context.Context, g *pollerGroup) ([]sqstypes.Message, error) {
	var batch []sqstypes.Message
	var deadline time.Time
	for {
		want := min(g.BatchSize-len(batch), 10)
		out, err := r.clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(g.queue.url),
			MaxNumberOfMessages: int32(want),
			// Short, so Close never waits long on a poll.
			WaitTimeSeconds: 1,
			// ApproximateReceiveCount and friends, as Lambda passes them on.
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if len(batch) > 0 && ctx.Err() == nil {
				return batch, nil
			}
			return nil, err
		}
		batch = append(batch, out.Messages...)
		if len(batch) == 0 || g.MaximumBatchingWindow == 0 || len(batch) >= g.BatchSize {
			return batch, nil
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(time.Duration(g.MaximumBatchingWindow) * time.Second)
		}
		if time.Now().After(deadline) {
			return batch, nil
		}
	}
}

// processBatch invokes the function with one batch and deletes what
// succeeded, with Lambda's rules: without ReportBatchItemFailures any error
// fails the whole batch; with it, only the ids listed in batchItemFailures
// stay, and an answer naming an id not in the batch fails the whole batch.
// Nothing failed is deleted: it comes back after the visibility timeout and
// the queue's redrive policy moves it to the DLQ after maxReceiveCount.
func (r *Runner) processBatch(g *pollerGroup, msgs []sqstypes.Message) {
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		ev.Records[i] = r.sqsRecord(g, m)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		r.log.Error("sqs event encoding failed", "function", g.fn.id, "err", err.Error())
		return
	}
	out, err := g.fn.invoke(context.Background(), payload)
	if err != nil {
		attrs := []any{"function", g.fn.id, "queue", g.Queue, "messages", len(msgs), "err", err.Error()}
		if p, ok := err.(*panicError); ok {
			attrs = append(attrs, "stack", string(p.stack))
		}
		r.log.Error("sqs batch failed", attrs...)
		return
	}
	keep := map[string]bool{}
	if g.ReportBatchItemFailures {
		failed, err := batchFailures(out, msgs)
		if err != nil {
			r.log.Error("sqs batch response invalid; the whole batch counts as failed", "function", g.fn.id, "err", err.Error())
			return
		}
		keep = failed
	}
	var entries []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if keep[aws.ToString(m.MessageId)] {
			continue
		}
		entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle,
		})
	}
	if len(keep) > 0 {
		r.log.Info("sqs batch partly failed", "function", g.fn.id, "queue", g.Queue, "failed", len(keep), "messages", len(msgs))
	}
	r.deleteMessages(g, entries)
}

// batchFailures reads an events.SQSEventResponse. An empty answer means
// every message succeeded.
func batchFailures(out []byte, msgs []sqstypes.Message) (map[string]bool, error) {
	failed := map[string]bool{}
	if len(out) == 0 || string(out) == "null" {
		return failed, nil
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		return nil, fmt.Errorf("not an SQSEventResponse: %w", err)
	}
	inBatch := map[string]bool{}
	for _, m := range msgs {
		inBatch[aws.ToString(m.MessageId)] = true
	}
	for _, f := range resp.BatchItemFailures {
		if !inBatch[f.ItemIdentifier] {
			return nil, fmt.Errorf("batchItemFailures names %q, which is not in the batch", f.ItemIdentifier)
		}
		failed[f.ItemIdentifier] = true
	}
	return failed, nil
}

func (r *Runner) deleteMessages(g *pollerGroup, entries []sqstypes.DeleteMessageBatchRequestEntry) {
	// Not the background context: deletes of a finished batch must happen
	// even while Close is stopping the pollers.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for start := 0; start < len(entries); start += 10 {
		chunk := entries[start:min(start+10, len(entries))]
		out, err := r.clients.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{
			QueueUrl: aws.String(g.queue.url), Entries: chunk,
		})
		if err != nil {
			r.log.Error("sqs delete failed", "function", g.fn.id, "queue", g.Queue, "err", err.Error())
			continue
		}
		for _, f := range out.Failed {
			r.log.Error("sqs delete failed", "function", g.fn.id, "queue", g.Queue, "code", aws.ToString(f.Code))
		}
	}
}

// sqsRecord is one message as Lambda hands it to the function.
func (r *Runner) sqsRecord(g *pollerGroup, m sqstypes.Message) events.SQSMessage {
	rec := events.SQSMessage{
		MessageId:              aws.ToString(m.MessageId),
		ReceiptHandle:          aws.ToString(m.ReceiptHandle),
		Body:                   aws.ToString(m.Body),
		Md5OfBody:              aws.ToString(m.MD5OfBody),
		Md5OfMessageAttributes: aws.ToString(m.MD5OfMessageAttributes),
		Attributes:             map[string]string{},
		MessageAttributes:      map[string]events.SQSMessageAttribute{},
		EventSource:            "aws:sqs",
		EventSourceARN:         g.queue.arn,
		AWSRegion:              r.stack.Region,
	}
	for k, v := range m.Attributes {
		rec.Attributes[k] = v
	}
	for k, v := range m.MessageAttributes {
		rec.MessageAttributes[k] = events.SQSMessageAttribute{
			DataType:         aws.ToString(v.DataType),
			StringValue:      v.StringValue,
			BinaryValue:      v.BinaryValue,
			StringListValues: nonNil(v.StringListValues),
			BinaryListValues: nonNilBytes(v.BinaryListValues),
		}
	}
	return rec
}

// Lambda sends [] rather than null for the list values.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func nonNilBytes(l [][]byte) [][]byte {
	if l == nil {
		return [][]byte{}
	}
	return l
}
