// Package lifecycle carries a holder's commands (issue, reissue, suspend,
// resume, cancel, renew, update, and the daily job's expire and lapse) from
// the API to the table, through a queue.
//
// Submit runs in the API function: it refuses at once what can be refused
// at once (by deciding on the holder as read), seals the personal fields,
// records the request as queued and puts the command on the queue. The
// Worker runs behind the queue: it decides again on the holder as it is
// now and applies the change in one conditional transaction. SQS delivers
// at least once; the transaction's condition on the request makes a second
// delivery a no-op, and a command that keeps failing ends in the
// dead-letter queue with its request marked failed and why.
package lifecycle

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pccc/pccc/shared/admission"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
)

// MessageVersion is the command message format; a worker that meets a
// newer one leaves it to be retried (by a newer worker, during a deploy).
const MessageVersion = 1

// Message is a command on the queue. It names the holder by keyed hash and
// carries personal fields only sealed, for the holder's item.
type Message struct {
	V         int               `json:"v"`
	RequestID string            `json:"requestId"`
	Kind      holder.Kind       `json:"kind"`
	Actor     holder.Actor      `json:"actor"`
	HolderKey string            `json:"holderKey"`
	Reason    string            `json:"reason,omitempty"`
	Sealed    map[string]string `json:"sealed,omitempty"` // "" removes a field
	QueuedAt  time.Time         `json:"queuedAt"`
}

// ParseMessage reads a message body; an error means it can never be
// carried out as it is.
func ParseMessage(body string) (Message, error) {
	var m Message
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		return Message{}, fmt.Errorf("command message: %w", err)
	}
	switch {
	case m.V != MessageVersion:
		return m, fmt.Errorf("command message: version %d", m.V)
	case m.RequestID == "" || m.HolderKey == "":
		return m, errors.New("command message: no request id or holder")
	case !m.Kind.Valid():
		return m, errors.New("command message: unknown kind")
	}
	switch m.Actor {
	case holder.ByHolder, holder.ByAuthority, holder.BySystem:
	default:
		return m, errors.New("command message: unknown actor")
	}
	return m, nil
}

// FieldAAD is where a sealed personal field lives: a value sealed for one
// holder's field opens nowhere else.
func FieldAAD(holderKey, field string) string { return "HOLDER#" + holderKey + "#" + field }

// Holders reads holders (dynamo.CodeStore).
type Holders interface {
	Holder(ctx context.Context, hk string) (dynamo.Holder, error)
}

// Requests keeps command requests (dynamo.RequestStore).
type Requests interface {
	Queue(ctx context.Context, r dynamo.Request) error
	Fail(ctx context.Context, id, reason string) error
}

// Queue puts a command on the command queue.
type Queue interface {
	Send(ctx context.Context, m Message) error
}

// Sealer seals personal fields (sealer.Sealer).
type Sealer interface {
	Seal(aad string, plaintext []byte) (string, error)
}

// Service is the API side.
type Service struct {
	Holders  Holders
	Requests Requests
	Queue    Queue
	Sealer   Sealer
	Policy   holder.Policy
	Now      func() time.Time
}

// Command is what a holder asks for.
type Command struct {
	Kind   holder.Kind
	Reason string
	// Fields are the personal fields to set, plain (issue: all of them;
	// update: the changed ones, "" to remove).
	Fields map[string]string
}

// ErrNotQueued is a command the queue would not take: nothing happened,
// the client may retry.
var ErrNotQueued = apperr.New(apperr.Overloaded, "The service is busy. Please try again shortly.").WithRetryAfter(5 * time.Second)

// Submit checks a holder's command against the holder as read, then queues
// it. It returns the queued request, or the refusal. Admission comes
// before it (codeapi); the position in line it gave rides on ctx
// (admission.WithPosition).
func (s *Service) Submit(ctx context.Context, hk string, c Command) (dynamo.Request, error) {
	now := s.Now()
	cur, err := s.current(ctx, hk)
	if err != nil {
		return dynamo.Request{}, err
	}
	if _, _, err := holder.Decide(cur, c.Kind, holder.ByHolder, now, s.Policy); err != nil {
		return dynamo.Request{}, err
	}
	sealed := map[string]string{}
	for name, v := range c.Fields {
		if v == "" {
			sealed[name] = ""
			continue
		}
		sv, err := s.Sealer.Seal(FieldAAD(hk, name), []byte(v))
		if err != nil {
			return dynamo.Request{}, fmt.Errorf("seal %s: %w", name, err)
		}
		sealed[name] = sv
	}
	id, err := NewRequestID()
	if err != nil {
		return dynamo.Request{}, err
	}
	req := dynamo.Request{ID: id, Owner: hk, Kind: string(c.Kind), Status: dynamo.RequestQueued, CreatedAt: now, Position: admission.PositionFrom(ctx)}
	// The record first: a worker that finds no record would create one
	// without an owner, and its holder could not read it.
	if err := s.Requests.Queue(ctx, req); err != nil {
		return dynamo.Request{}, err
	}
	msg := Message{V: MessageVersion, RequestID: id, Kind: c.Kind, Actor: holder.ByHolder, HolderKey: hk,
		Reason: c.Reason, Sealed: sealed, QueuedAt: now}
	if err := s.Queue.Send(ctx, msg); err != nil {
		if ferr := s.Requests.Fail(ctx, id, "The request could not be queued. Please send it again."); ferr != nil {
			err = errors.Join(err, ferr)
		}
		return dynamo.Request{}, apperr.Wrap(err, ErrNotQueued.Code, ErrNotQueued.Message).WithRetryAfter(ErrNotQueued.RetryAfter)
	}
	return req, nil
}

func (s *Service) current(ctx context.Context, hk string) (*holder.Record, error) {
	h, err := s.Holders.Holder(ctx, hk)
	if errors.Is(err, dynamo.ErrNoHolder) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := RecordOf(h)
	return &r, nil
}

// RecordOf is the rules' view of a stored holder.
func RecordOf(h dynamo.Holder) holder.Record {
	return holder.Record{
		Code: h.Code, Status: holder.Status(h.Status), SuspendedBy: holder.Actor(h.SuspendedBy),
		IssuedAt: h.IssuedAt, ExpiresAt: h.ExpiresAt, ReissueYear: h.ReissueYear, ReissuesInYear: h.ReissuesInYear,
	}
}

// NewRequestID returns 128 random bits, URL-safe.
func NewRequestID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("request id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// SendAPI is the part of the SQS client the queue uses.
type SendAPI interface {
	SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQSQueue is the command queue.
type SQSQueue struct {
	SQS      SendAPI
	QueueURL string
}

var _ Queue = (*SQSQueue)(nil)

// Send implements Queue.
func (q *SQSQueue) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = q.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.QueueURL), MessageBody: aws.String(string(body))})
	if err != nil {
		return fmt.Errorf("send command: %w", err)
	}
	return nil
}
