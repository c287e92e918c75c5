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

	"github.com/aws/aws-lambda-go/events"
)

// Processor runs Handle on each message.
type Processor struct {
	// Name says what the messages are, for the log ("command", "sms").
	Name string
	// MaxReceives is the queue's maxReceiveCount; LastReceive reports
	// whether a message reached it.
	MaxReceives int
	Log         *slog.Logger
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
			// The id, the count and the error only: never the body.
			p.Log.WarnContext(ctx, p.Name+" failed", "messageId", m.MessageId, "receives", Receives(m), "err", err.Error())
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: m.MessageId})
		}
	}
	p.Log.InfoContext(ctx, p.Name+" batch", "messages", len(ev.Records), "failed", len(resp.BatchItemFailures))
	return resp
}
