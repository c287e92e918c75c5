// Package sqsbatch is the SQS batch processor every queue consumer uses,
// written once (CONVENTIONS.md: Powertools has none for Go). It runs a
// handler on each message of a batch and reports the failed ones by id,
// for an event source with ReportBatchItemFailures: only they come back,
// the rest are deleted. It also tells a handler whether a message is on
// its last receive before the queue moves it to the dead-letter queue, so
// the handler can leave a record of the failure where a person will see it.
package sqsbatch

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Processor runs Handle on each message.
type Processor struct {
	// Name says what the messages are, for the log ("command", "sms").
	Name string
	// MaxReceives is the queue's maxReceiveCount; LastReceive reports
	// whether a message reached it.
	MaxReceives int
	Log         *slog.Logger
	// Retry, when set, brings a failed message back sooner than its
	// queue's visibility timeout (nil: the timeout).
	Retry *Retry
}

// VisibilityAPI is the part of the SQS client Retry uses.
type VisibilityAPI interface {
	ChangeMessageVisibility(context.Context, *sqs.ChangeMessageVisibilityInput, ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
}

// Retry sets a failed message's visibility to Backoff of its receives, so
// it is tried again then rather than after the queue's visibility timeout
// (which Lambda wants at six times the function's timeout: minutes). The
// message's queue is the one of QueueURLs whose name ends its
// EventSourceARN. Backoff, of the message and its failure, 0 leaves the
// timeout as it is (for a message that no retry can mend).
type Retry struct {
	SQS       VisibilityAPI
	QueueURLs []string
	Backoff   func(m events.SQSMessage, err error) time.Duration
}

// Doubling is a backoff of base after the first receive, doubling with
// each receive after it, at most limit.
func Doubling(base, limit time.Duration) func(events.SQSMessage, error) time.Duration {
	return func(m events.SQSMessage, _ error) time.Duration {
		d := base
		for n := Receives(m); n > 1 && d < limit; n-- {
			d *= 2
		}
		return min(d, limit)
	}
}

// queueURL is the URL of the message's queue, or "" when none is known.
func (r *Retry) queueURL(m events.SQSMessage) string {
	name := m.EventSourceARN[strings.LastIndex(m.EventSourceARN, ":")+1:]
	if name == "" {
		return ""
	}
	for _, u := range r.QueueURLs {
		if strings.HasSuffix(u, "/"+name) {
			return u
		}
	}
	return ""
}

// failed is what is done with a failed message: logged (the id, the count
// and the error only: never the body) and, with Retry, made visible again
// after its backoff.
func (p *Processor) failed(ctx context.Context, m events.SQSMessage, err error) {
	p.Log.WarnContext(ctx, p.Name+" failed", "messageId", m.MessageId, "receives", Receives(m), "err", err.Error())
	if p.Retry == nil || p.Retry.SQS == nil || p.Retry.Backoff == nil {
		return
	}
	wait := p.Retry.Backoff(m, err)
	url := p.Retry.queueURL(m)
	if wait <= 0 || url == "" {
		return
	}
	// The batch's own context may be near its end: the change is quick.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, cErr := p.Retry.SQS.ChangeMessageVisibility(cctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: aws.String(m.ReceiptHandle), VisibilityTimeout: int32((wait + time.Second - 1) / time.Second),
	}); cErr != nil {
		// The queue's timeout brings it back instead.
		p.Log.WarnContext(ctx, p.Name+" retry not brought forward", "messageId", m.MessageId, "err", cErr.Error())
	}
}

// Receives is how many times SQS has delivered the message, this time
// included (0 when the attribute is missing).
func Receives(m events.SQSMessage) int {
	n, _ := strconv.Atoi(m.Attributes["ApproximateReceiveCount"])
	return n
}

// LastReceive reports whether a failure now sends the message to the
// dead-letter queue.
func (p *Processor) LastReceive(m events.SQSMessage) bool {
	return p.MaxReceives > 0 && Receives(m) >= p.MaxReceives
}

// Process runs handle on every message of the batch, in order, and returns
// the failed ones. It never fails the whole batch: one bad message must not
// bring back the good ones with it.
func (p *Processor) Process(ctx context.Context, ev events.SQSEvent, handle func(context.Context, events.SQSMessage) error) events.SQSEventResponse {
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for _, m := range ev.Records {
		if err := handle(ctx, m); err != nil {
			p.failed(ctx, m, err)
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	p.Log.InfoContext(ctx, p.Name+" batch", "messages", len(ev.Records), "failed", len(resp.BatchItemFailures))
	return resp
}

// Finish is the rest of a message's work, run beside the other messages'.
type Finish func(context.Context) error

// ProcessStaged runs start on every message of the batch, in order, one at
// a time; a start that returns a Finish has the rest of its message run
// concurrently with the next starts and finishes (nil: the message is
// done). Whatever fails, in start or in its Finish, is reported as
// Process does. For work whose order matters up to a point (taking a
// share of a rate in turn) and whose slow part does not (the call made
// with it).
func (p *Processor) ProcessStaged(ctx context.Context, ev events.SQSEvent, start func(context.Context, events.SQSMessage) (Finish, error)) events.SQSEventResponse {
	errs := make([]error, len(ev.Records))
	var wg sync.WaitGroup
	for i, m := range ev.Records {
		fin, err := start(ctx, m)
		if err != nil || fin == nil {
			errs[i] = err
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fin(ctx)
		}()
	}
	wg.Wait()
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	for i, m := range ev.Records {
		if errs[i] != nil {
			p.failed(ctx, m, errs[i])
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	p.Log.InfoContext(ctx, p.Name+" batch", "messages", len(ev.Records), "failed", len(resp.BatchItemFailures))
	return resp
}
