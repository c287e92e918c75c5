// Package sms delivers the system's text messages through a queue: the API
// seals each message and puts it on the outbox queue (Outbox); the sender
// Lambda (Sender) takes batches off it and hands them to a provider, so a
// burst of verifications waits in the queue instead of failing, and a send
// that keeps failing ends in the dead-letter queue with its verification
// marked as undelivered.
package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/sqsbatch"
)

// Envelope is the body of an outbox message: which verification it belongs
// to and the sealed identity.SMS. Nothing in it is readable without the data
// key.
type Envelope struct {
	VerificationID string `json:"verificationId"`
	Sealed         string `json:"sealed"`
}

// SendAPI is the part of the SQS client the outbox uses.
type SendAPI interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Outbox puts sealed messages on the outbox queue.
type Outbox struct {
	SQS      SendAPI
	QueueURL string
}

var _ identity.Outbox = (*Outbox)(nil)

// Enqueue queues one sealed message.
func (o *Outbox) Enqueue(ctx context.Context, verificationID, sealed string) error {
	body, _ := json.Marshal(Envelope{VerificationID: verificationID, Sealed: sealed})
	_, err := o.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(o.QueueURL), MessageBody: aws.String(string(body))})
	if err != nil {
		return fmt.Errorf("enqueue sms: %w", err)
	}
	return nil
}

// Provider sends one text to one phone.
type Provider interface {
	Send(ctx context.Context, to, text string) error
}

// DeliveryRecorder marks a verification whose code could not be delivered.
type DeliveryRecorder interface {
	MarkDeliveryFailed(ctx context.Context, verificationID string) error
}

// Opener unseals messages (sealer.Sealer).
type Opener interface {
	Open(aad, sealed string) ([]byte, error)
}

// Sender is the SQS-triggered sender. It reports each failed message by id,
// so only those are retried; at the last receive before the queue moves a
// message to the dead-letter queue, it marks the verification undelivered.
type Sender struct {
	Provider    Provider
	Opener      Opener
	Deliveries  DeliveryRecorder
	MaxReceives int // the queue's maxReceiveCount
	Log         *slog.Logger
}

// Handle sends a batch.
func (s *Sender) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	p := &sqsbatch.Processor{Name: "sms", MaxReceives: s.MaxReceives, Log: s.Log}
	return p.Process(ctx, ev, func(ctx context.Context, m events.SQSMessage) error {
		return s.one(ctx, m, p.LastReceive(m))
	}), nil
}

// errPoison is a message that can never be sent, however often it is tried.
var errPoison = errors.New("unreadable message")

func (s *Sender) one(ctx context.Context, m events.SQSMessage, last bool) error {
	var env Envelope
	err := json.Unmarshal([]byte(m.Body), &env)
	if err == nil && env.VerificationID == "" {
		err = errPoison
	}
	if err == nil {
		var plain []byte
		if plain, err = s.Opener.Open(identity.SMSAAD(env.VerificationID), env.Sealed); err == nil {
			var msg identity.SMS
			if err = json.Unmarshal(plain, &msg); err == nil {
				err = s.Provider.Send(ctx, msg.To, msg.Text)
			}
		} else {
			err = errPoison
		}
	} else {
		err = errPoison
	}
	if err == nil {
		return nil
	}
	if env.VerificationID != "" && last {
		if mErr := s.Deliveries.MarkDeliveryFailed(ctx, env.VerificationID); mErr != nil {
			return errors.Join(err, mErr)
		}
	}
	return err
}
