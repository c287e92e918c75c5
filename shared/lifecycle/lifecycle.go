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
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pccc/pccc/shared/admission"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/idempotency"
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

// Holders reads holders (dynamo.CodeStore).
type Holders interface {
	Holder(ctx context.Context, hk string) (holder.Stored, error)
}

// Requests keeps command requests (dynamo.RequestStore).
type Requests interface {
	Queue(ctx context.Context, r holder.Request) error
	Claim(ctx context.Context, r holder.Request, now time.Time) (holder.Request, bool, error)
	Refuse(ctx context.Context, id, payloadHash, refusal string) error
	Unsent(ctx context.Context, id, reason string) error
}

// Queue puts a command on the command queue (sqsqueue.Sender).
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
	// KeyTTL is how long an Idempotency-Key is remembered (default 24h).
	KeyTTL time.Duration
}

// Command is what a holder asks for.
type Command struct {
	Kind   holder.Kind
	Reason string
	// Fields are the personal fields to set, plain (issue: all of them;
	// update: the changed ones, "" to remove).
	Fields map[string]string
	// Key is the caller's Idempotency-Key ("" for none) and PayloadHash
	// what the key was sent with (idempotency.Fingerprint).
	Key, PayloadHash string
}

// Receipt is a queued command: its request, and whether this answer
// replays an earlier call with the same Idempotency-Key.
type Receipt struct {
	Request  holder.Request
	Replayed bool
}

// ErrNotQueued is a command the queue would not take: nothing happened,
// the client may retry.
var ErrNotQueued = apperr.New(apperr.Overloaded, "The service is busy. Please try again shortly.").WithRetryAfter(5 * time.Second)

// Submit checks a holder's command against the holder as read, then queues
// it. It returns the queued request, or the refusal. Admission comes
// before it (codeapi); the position in line it gave rides on ctx
// (admission.WithPosition).
//
// A command with an Idempotency-Key has a request id derived from the
// holder and the key, and its request record is the key's record: one
// conditional write claims the key and queues the request, while the
// holder is read at the same time. So the accept path is one write, one
// read and one send, and a retry finds what the first call left:
//   - a request for another body: 409;
//   - a refusal: the same refusal;
//   - a queued request: the same 202, and its command is sent again,
//     since the first call may have died between its write and its send
//     (the worker carries a request out at most once);
//   - a request that ended: the same 202.
func (s *Service) Submit(ctx context.Context, hk string, c Command) (Receipt, error) {
	if c.Key == "" {
		return s.submitUnkeyed(ctx, hk, c)
	}
	now := s.Now()
	req := s.request(ctx, RequestIDFor(hk, c.Key), hk, c, now)
	req.PayloadHash, req.KeyUntil = c.PayloadHash, now.Add(s.keyTTL())
	type read struct {
		cur *holder.Record
		err error
	}
	got := make(chan read, 1)
	go func() {
		cur, err := s.current(ctx, hk)
		got <- read{cur, err}
	}()
	prior, claimed, err := s.Requests.Claim(ctx, req, now)
	h := <-got
	if err != nil {
		return Receipt{}, err
	}
	if !claimed {
		return s.replay(ctx, hk, c, prior)
	}
	if h.err != nil {
		return Receipt{}, s.unsent(ctx, req.ID, h.err)
	}
	if _, _, err := holder.Decide(h.cur, c.Kind, holder.ByHolder, now, s.Policy); err != nil {
		if ferr := s.Requests.Refuse(ctx, req.ID, req.PayloadHash, idempotency.EncodeRefusal(err)); ferr != nil {
			// The refusal stands; only its replay is lost, and a retry is
			// decided again.
			return Receipt{}, errors.Join(err, ferr)
		}
		return Receipt{}, err
	}
	if err := s.send(ctx, req, hk, c, now); err != nil {
		return Receipt{}, s.unsent(ctx, req.ID, err)
	}
	return Receipt{Request: req}, nil
}

// submitUnkeyed queues a command sent without a key: decided first, so a
// refusal costs no write.
func (s *Service) submitUnkeyed(ctx context.Context, hk string, c Command) (Receipt, error) {
	now := s.Now()
	cur, err := s.current(ctx, hk)
	if err != nil {
		return Receipt{}, err
	}
	if _, _, err := holder.Decide(cur, c.Kind, holder.ByHolder, now, s.Policy); err != nil {
		return Receipt{}, err
	}
	id, err := NewRequestID()
	if err != nil {
		return Receipt{}, err
	}
	req := s.request(ctx, id, hk, c, now)
	// The record first: a worker that finds no record would create one
	// without an owner, and its holder could not read it.
	if err := s.Requests.Queue(ctx, req); err != nil {
		return Receipt{}, err
	}
	if err := s.send(ctx, req, hk, c, now); err != nil {
		return Receipt{}, s.unsent(ctx, req.ID, err)
	}
	return Receipt{Request: req}, nil
}

func (s *Service) request(ctx context.Context, id, hk string, c Command, now time.Time) holder.Request {
	return holder.Request{ID: id, Owner: hk, Kind: string(c.Kind), Status: holder.RequestQueued, CreatedAt: now, Position: admission.PositionFrom(ctx)}
}

// replay answers a call whose key already has a request.
func (s *Service) replay(ctx context.Context, hk string, c Command, prior holder.Request) (Receipt, error) {
	if prior.Owner != hk || prior.PayloadHash != c.PayloadHash {
		return Receipt{}, idempotency.ErrReused
	}
	if prior.Status == holder.RequestRefused {
		return Receipt{}, idempotency.DecodeRefusal(prior.Refusal)
	}
	if prior.Status == holder.RequestQueued {
		if err := s.send(ctx, prior, hk, c, s.Now()); err != nil {
			// Still queued as far as we know; the client may retry.
			return Receipt{}, apperr.Wrap(err, ErrNotQueued.Code, ErrNotQueued.Message).WithRetryAfter(ErrNotQueued.RetryAfter)
		}
	}
	return Receipt{Request: prior, Replayed: true}, nil
}

// send seals the command's personal fields and puts it on the queue.
func (s *Service) send(ctx context.Context, req holder.Request, hk string, c Command, now time.Time) error {
	sealed := map[string]string{}
	for name, v := range c.Fields {
		if v == "" {
			sealed[name] = ""
			continue
		}
		sv, err := s.Sealer.Seal(holder.FieldAAD(hk, name), []byte(v))
		if err != nil {
			return fmt.Errorf("seal %s: %w", name, err)
		}
		sealed[name] = sv
	}
	return s.Queue.Send(ctx, Message{V: MessageVersion, RequestID: req.ID, Kind: c.Kind, Actor: holder.ByHolder, HolderKey: hk,
		Reason: c.Reason, Sealed: sealed, QueuedAt: now})
}

// unsent marks a claimed request that never reached the queue, so its key
// can be used again at once, and answers 503 with Retry-After.
func (s *Service) unsent(ctx context.Context, id string, cause error) error {
	if ferr := s.Requests.Unsent(ctx, id, "The request could not be queued. Please send it again."); ferr != nil {
		cause = errors.Join(cause, ferr)
	}
	if apperr.As(cause).Code == apperr.Overloaded {
		return cause // a throttled table already says so, with its Retry-After
	}
	return apperr.Wrap(cause, ErrNotQueued.Code, ErrNotQueued.Message).WithRetryAfter(ErrNotQueued.RetryAfter)
}

func (s *Service) keyTTL() time.Duration {
	if s.KeyTTL > 0 {
		return s.KeyTTL
	}
	return 24 * time.Hour
}

// RequestIDFor is the request id of a holder's keyed command: the same
// holder and key always name the same request, and nobody can tell a key
// from an id. 128 bits of SHA-256, URL-safe, the shape of NewRequestID.
func RequestIDFor(hk, key string) string {
	h := sha256.New()
	h.Write([]byte("pccc-request\x00"))
	h.Write([]byte(hk))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:16])
}

func (s *Service) current(ctx context.Context, hk string) (*holder.Record, error) {
	h, err := s.Holders.Holder(ctx, hk)
	if errors.Is(err, holder.ErrNoHolder) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r := RecordOf(h)
	return &r, nil
}

// RecordOf is the rules' view of a stored holder.
func RecordOf(h holder.Stored) holder.Record {
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
