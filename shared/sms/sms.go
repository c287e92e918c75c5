// Package sms delivers the system's text messages through a queue: the API
// seals each message and puts it on the outbox queue (Outbox); the sender
// Lambda (Sender) takes batches off it and hands them to a provider, so a
// burst of verifications waits in the queue instead of failing, and a send
// that keeps failing ends in the dead-letter queue with its verification
// marked as undelivered.
//
// The outbox carries two kinds of message: a verification's one-time code
// (VerificationID and the sealed identity.SMS, as ever) and a holder notice
// (NoticeID, the holder, the holder's phone exactly as sealed in the holder
// item, and a text that holds no personal data; shared/notify writes
// them). A notice is sent once per id, however often it is queued.
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

	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/lifecycle"
	"github.com/pccc/pccc/shared/sqsbatch"
)

// Envelope is the body of an outbox message: either which verification it
// belongs to and the sealed identity.SMS, or a holder notice. No personal
// data in it is readable without the data key.
type Envelope struct {
	VerificationID string `json:"verificationId,omitempty"`
	Sealed         string `json:"sealed,omitempty"`

	// A holder notice: its id (one send per id), the holder, the phone as
	// sealed in the holder item (under lifecycle.FieldAAD(holder, "phone")),
	// and the text, which names no one. An empty holder or phone is a
	// notice with nobody to tell (an unknown code's mismatches): dropped.
	NoticeID  string `json:"noticeId,omitempty"`
	HolderKey string `json:"holderKey,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Text      string `json:"text,omitempty"`
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

// EnqueueNotice queues one holder notice: sealedPhone is the phone as the
// holder item keeps it, opened only by the sender.
func (o *Outbox) EnqueueNotice(ctx context.Context, noticeID, holderKey, sealedPhone, text string) error {
	body, _ := json.Marshal(Envelope{NoticeID: noticeID, HolderKey: holderKey, Phone: sealedPhone, Text: text})
	_, err := o.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(o.QueueURL), MessageBody: aws.String(string(body))})
	if err != nil {
		return fmt.Errorf("enqueue notice: %w", err)
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

// NoticeLedger sends each holder notice once (dynamo.NoticeStore): Claim
// before the send (false: sent already, or being sent), Sent after it,
// Release after a failed one so the next delivery tries again.
type NoticeLedger interface {
	Claim(ctx context.Context, id string) (bool, error)
	Sent(ctx context.Context, id string) error
	Release(ctx context.Context, id string) error
}

// Sender is the SQS-triggered sender. It reports each failed message by id,
// so only those are retried; at the last receive before the queue moves a
// message to the dead-letter queue, it marks the verification undelivered
// (a notice has no verification: it just goes to the dead-letter queue).
type Sender struct {
	Provider    Provider
	Opener      Opener
	Deliveries  DeliveryRecorder
	Notices     NoticeLedger
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
	if err == nil && env.VerificationID == "" && env.NoticeID != "" {
		return s.notice(ctx, env)
	}
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

// notice sends a holder notice once. Its failures carry no personal data;
// after the last receive the message waits in the dead-letter queue.
func (s *Sender) notice(ctx context.Context, env Envelope) error {
	if env.HolderKey == "" || env.Phone == "" {
		// Nobody to tell: the mismatches of a code no holder has are
		// queued like any other, so a check takes the same path whether
		// or not the code exists.
		s.Log.DebugContext(ctx, "notice without a recipient dropped", "noticeId", env.NoticeID)
		return nil
	}
	if env.Text == "" || s.Notices == nil {
		return errPoison
	}
	phone, err := s.Opener.Open(lifecycle.FieldAAD(env.HolderKey, holder.FieldPhone), env.Phone)
	if err != nil {
		return errPoison
	}
	claimed, err := s.Notices.Claim(ctx, env.NoticeID)
	if err != nil {
		return err
	}
	if !claimed {
		s.Log.InfoContext(ctx, "notice already sent", "noticeId", env.NoticeID)
		return nil
	}
	if err := s.Provider.Send(ctx, string(phone), env.Text); err != nil {
		if rErr := s.Notices.Release(ctx, env.NoticeID); rErr != nil {
			return errors.Join(err, rErr)
		}
		return err
	}
	s.Log.InfoContext(ctx, "notice sent", "noticeId", env.NoticeID)
	if err := s.Notices.Sent(ctx, env.NoticeID); err != nil {
		// It went out: a retry would send it again once the claim lapses.
		s.Log.WarnContext(ctx, "notice sent but not marked", "noticeId", env.NoticeID, "err", err.Error())
	}
	return nil
}
