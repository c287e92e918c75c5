// Package sms delivers the system's text messages through queues, by
// priority, at the provider's rate. The API seals each one-time code and
// puts it on the code queue; the holders' notices go on the notice queue
// (Outbox, one per queue). The sender Lambda (Sender) takes batches off
// both and hands them to a provider, each message taking a token of the
// provider's rate from one bucket shared by every instance (Bucket), codes
// ahead of notices; so a burst waits in the queues instead of failing or
// overrunning the provider, and a send that keeps failing ends in its
// queue's dead-letter queue, a code's verification marked undelivered.
//
// A code carries its expiry: one that can no longer reach the phone with
// DeliveryMargin of its validity left is not sent, and its verification is
// marked late, so its confirm tells the person to ask again instead of
// waiting. A notice (NoticeID, the holder, the holder's phone exactly as
// sealed in the holder item, and a text that holds no personal data;
// shared/notify writes them) is sent once per id however often it is
// queued; one that finds no share of the rate for a while is put back on
// its queue, delayed, rather than failed towards the dead-letter queue.
//
// Every message ends in one Fact (Sender.record): what stats count
// (codes sent, codes dropped as too late, notices sent, SMS parts).
//
// The providers are shared/smsprovider's, the bucket, ledgers and counters
// shared/dynamo's; shared/smsapi wires them into the sender function.
package sms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/sqsbatch"
)

// Envelope is the body of a queued message: either which verification it
// belongs to and the sealed identity.SMS, or a holder notice. No personal
// data in it is readable without the data key.
type Envelope struct {
	VerificationID string `json:"verificationId,omitempty"`
	Sealed         string `json:"sealed,omitempty"`
	// The code's send number in its verification and its expiry: a code
	// that can no longer arrive in time is not sent, and only that send is
	// marked late. Absent in messages queued before they existed.
	Send      int        `json:"send,omitempty"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`

	// A holder notice: its id (one send per id), the holder, the phone as
	// sealed in the holder item (under holder.FieldAAD(holder, "phone")),
	// and the text, which names no one. An empty holder or phone is a
	// notice with nobody to tell (an unknown code's mismatches): dropped.
	NoticeID  string `json:"noticeId,omitempty"`
	HolderKey string `json:"holderKey,omitempty"`
	Phone     string `json:"phone,omitempty"`
	Text      string `json:"text,omitempty"`
	// TextEn is the notice in English, sent instead of Text to a holder
	// who chose English (each one SMS part; shared/notify).
	TextEn string `json:"textEn,omitempty"`
	// Bulk marks a notice of the authority's campaigns: sent behind the
	// codes and the holders' own notices (PriorityBulk), and put back on
	// the bulk queue when it finds no share of the rate.
	Bulk bool `json:"bulk,omitempty"`
}

// Queue puts a message's body on one queue, delayed by delay (0: at once;
// sqsqueue.Queue).
type Queue interface {
	Put(ctx context.Context, body string, delay time.Duration) error
}

// Outbox puts sealed messages on a queue: the code queue for codes, the
// notice queue for notices.
type Outbox struct {
	Queue Queue
	// Bulk marks every notice it queues a campaign's (Envelope.Bulk).
	Bulk bool
}

var _ identity.Outbox = (*Outbox)(nil)

// Enqueue queues one sealed code.
func (o *Outbox) Enqueue(ctx context.Context, c identity.QueuedCode) error {
	env := Envelope{VerificationID: c.VerificationID, Sealed: c.Sealed, Send: c.Send}
	if !c.ExpiresAt.IsZero() {
		exp := c.ExpiresAt.UTC()
		env.ExpiresAt = &exp
	}
	body, _ := json.Marshal(env)
	if err := o.Queue.Put(ctx, string(body), 0); err != nil {
		return fmt.Errorf("enqueue sms: %w", err)
	}
	return nil
}

// EnqueueNotice queues one holder notice: sealedPhone is the phone as the
// holder item keeps it, opened only by the sender, which sends textKo or
// textEn as the holder chose.
func (o *Outbox) EnqueueNotice(ctx context.Context, noticeID, holderKey, sealedPhone, textKo, textEn string) error {
	return o.enqueueNotice(ctx, Envelope{NoticeID: noticeID, HolderKey: holderKey, Phone: sealedPhone, Text: textKo, TextEn: textEn, Bulk: o.Bulk}, 0)
}

func (o *Outbox) enqueueNotice(ctx context.Context, env Envelope, delay time.Duration) error {
	body, _ := json.Marshal(env)
	if err := o.Queue.Put(ctx, string(body), delay); err != nil {
		return fmt.Errorf("enqueue notice: %w", err)
	}
	return nil
}

// Provider sends one text to one phone.
type Provider interface {
	Send(ctx context.Context, to, text string) error
}

// DeliveryRecorder marks a verification whose code could not be
// delivered: failed at the provider, or too late to be of use (only the
// send it names: a newer code is not touched).
type DeliveryRecorder interface {
	MarkDeliveryFailed(ctx context.Context, verificationID string) error
	MarkDeliveryLate(ctx context.Context, verificationID string, send int) error
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

// Languages reads the language a holder chose, as the holder item keeps
// it (sealed like the other details, under holder.FieldAAD(holder,
// holder.FieldLanguage)); "" when there is none: Korean.
type Languages interface {
	SealedLanguage(ctx context.Context, holderKey string) (string, error)
}

// Outcomes of a message, as Fact reports them.
const (
	OutcomeSent      = "sent"      // handed to the provider
	OutcomeLate      = "late"      // a code dropped: it could not arrive in time
	OutcomeFailed    = "failed"    // the provider failed; retried, then the DLQ
	OutcomeDuplicate = "duplicate" // a notice sent already
	OutcomeDeferred  = "deferred"  // a notice put back: no share of the rate yet
	OutcomeDropped   = "dropped"   // a notice for nobody, or an unreadable message
)

// Fact is what became of one message: the one place stats count codes
// sent, codes dropped as too late, notices sent, and the SMS parts paid
// for (Parts on the provider used; LMS on a Korean gateway).
type Fact struct {
	Kind    Priority
	Outcome string
	Parts   int
	LMS     bool
	// Wait is how long a code waited from its queueing (its expiry less
	// its validity) to this outcome, when known.
	Wait time.Duration
}

// FactRecorder receives every Fact (nil: none; shared/stats may count).
type FactRecorder interface {
	Record(ctx context.Context, f Fact)
}

// Tally is this process's count of the facts, for make bench (in AWS, one
// instance's).
type Tally struct {
	CodesSent, CodesLate, CodesFailed, NoticesSent, NoticesDeferred, NoticesFailed, Parts int64
}

var tally struct {
	codesSent, codesLate, codesFailed, noticesSent, noticesDeferred, noticesFailed, parts atomic.Int64
}

// Tallies reports Tally so far.
func Tallies() Tally {
	return Tally{
		CodesSent: tally.codesSent.Load(), CodesLate: tally.codesLate.Load(), CodesFailed: tally.codesFailed.Load(),
		NoticesSent: tally.noticesSent.Load(), NoticesDeferred: tally.noticesDeferred.Load(),
		NoticesFailed: tally.noticesFailed.Load(), Parts: tally.parts.Load(),
	}
}

// Provider kinds, for the parts a message costs.
const (
	ProviderAWS     = "sns"
	ProviderGateway = "http"
)

// Sender is the SQS-triggered sender. It reports each failed message by id,
// so only those are retried; at the last receive before the queue moves a
// message to the dead-letter queue, it marks the verification undelivered
// (a notice has no verification: it just goes to the dead-letter queue).
type Sender struct {
	Provider     Provider
	ProviderKind string // ProviderAWS or ProviderGateway: how parts are counted
	Opener       Opener
	Deliveries   DeliveryRecorder
	Notices      NoticeLedger
	MaxReceives  int // the queues' maxReceiveCount
	Log          *slog.Logger

	// Rate is the provider's rate over all instances (nil: unbounded).
	Rate Bucket
	// CodeTTL is a code's validity: its expiry less it is when it was
	// queued (for Fact.Wait). DeliveryMargin is the validity a code must
	// still have to be sent.
	CodeTTL, DeliveryMargin time.Duration
	// NoticeWait bounds a notice batch's wait for the rate before its
	// notices are put back on NoticeQueue, delayed by NoticeDelay.
	NoticeWait  time.Duration
	NoticeDelay time.Duration
	NoticeQueue *Outbox
	// BulkQueue is where a campaign's notice goes back (nil: NoticeQueue).
	BulkQueue *Outbox
	// Languages tells a notice's language (nil: Korean).
	Languages Languages
	Facts     FactRecorder
	// Retry brings a failed send back after a short backoff instead of
	// the queue's visibility timeout (nil: the timeout): a code is valid
	// minutes, the timeout is three.
	Retry *sqsbatch.Retry
	Now   func() time.Time
}

// Handle sends a batch. The messages take their tokens of the rate in
// turn, each just before its send, as many at once as the bucket has for
// the messages still to go; the sends, and what follows them, run side by
// side, so one instance keeps up with the rate however long a send takes
// (one message at a time, a 20 ms round trip to the provider would cap an
// instance at 50 a second, whatever the rate). Tokens are never held for
// later: taken ahead and spent after other instances' they would reach the
// provider in bursts above its rate. The batch's counts are written
// together at its end (FactRecorder's RecordAll, when it has one).
func (s *Sender) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	p := &sqsbatch.Processor{Name: "sms", MaxReceives: s.MaxReceives, Log: s.Log, Retry: s.Retry}
	inv := &invocation{toks: map[Priority]*tokens{}}
	ctx = context.WithValue(ctx, invocationKey{}, inv)
	left := len(ev.Records)
	resp := p.ProcessStaged(ctx, ev, func(ctx context.Context, m events.SQSMessage) (sqsbatch.Finish, error) {
		defer func() { left-- }()
		return s.one(ctx, m, p.LastReceive(m), func(prio Priority) *tokens {
			if inv.toks[prio] == nil {
				inv.toks[prio] = &tokens{b: s.Rate, prio: prio, now: s.now}
			}
			return inv.toks[prio]
		}, left)
	})
	s.flush(ctx, inv)
	return resp, nil
}

// invocation is one batch's state: the tokens taken and not yet spent (by
// the one goroutine that takes them), and the facts to count at its end.
type invocation struct {
	toks  map[Priority]*tokens
	mu    sync.Mutex
	facts []Fact
}

type invocationKey struct{}

// BatchRecorder is a FactRecorder that takes a batch's facts at once (one
// write for them all).
type BatchRecorder interface {
	RecordAll(ctx context.Context, facts []Fact)
}

// flush hands the batch's facts to the FactRecorder.
func (s *Sender) flush(ctx context.Context, inv *invocation) {
	inv.mu.Lock()
	facts := inv.facts
	inv.facts = nil
	inv.mu.Unlock()
	if s.Facts == nil || len(facts) == 0 {
		return
	}
	if br, ok := s.Facts.(BatchRecorder); ok {
		br.RecordAll(ctx, facts)
		return
	}
	for _, f := range facts {
		s.Facts.Record(ctx, f)
	}
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// errPoison is a message that can never be sent, however often it is tried.
var errPoison = errors.New("unreadable message")

// one starts a message: up to its token of the rate, in turn; the send
// and what follows it are the Finish, run beside the others.
func (s *Sender) one(ctx context.Context, m events.SQSMessage, last bool, toks func(Priority) *tokens, left int) (sqsbatch.Finish, error) {
	var env Envelope
	err := json.Unmarshal([]byte(m.Body), &env)
	if err == nil && env.VerificationID == "" && env.NoticeID != "" {
		if env.Bulk {
			return s.notice(ctx, env, toks(PriorityBulk), left)
		}
		return s.notice(ctx, env, toks(PriorityNotice), left)
	}
	if err != nil || env.VerificationID == "" {
		s.record(ctx, Fact{Kind: PriorityCode, Outcome: OutcomeDropped})
		return nil, errPoison
	}
	result := func(err error) error {
		if err == nil || errors.Is(err, errLate) {
			return nil
		}
		if last {
			if mErr := s.Deliveries.MarkDeliveryFailed(ctx, env.VerificationID); mErr != nil {
				return errors.Join(err, mErr)
			}
		}
		return err
	}
	send, err := s.code(ctx, env, toks(PriorityCode), left)
	if err != nil || send == nil {
		return nil, result(err)
	}
	return func(ctx context.Context) error { return result(send(ctx)) }, nil
}

// errLate is a code dropped as too late (not a failure: nothing to retry).
var errLate = errors.New("code too late to send")

// code takes a one-time code's token and returns its send, unless it could
// no longer reach the phone with DeliveryMargin of its validity left: then
// it is dropped, counted, and its verification marked late.
func (s *Sender) code(ctx context.Context, env Envelope, t *tokens, left int) (sqsbatch.Finish, error) {
	plain, err := s.Opener.Open(identity.SMSAAD(env.VerificationID), env.Sealed)
	if err != nil {
		s.record(ctx, Fact{Kind: PriorityCode, Outcome: OutcomeDropped})
		return nil, errPoison
	}
	var msg identity.SMS
	if err := json.Unmarshal(plain, &msg); err != nil {
		s.record(ctx, Fact{Kind: PriorityCode, Outcome: OutcomeDropped})
		return nil, errPoison
	}
	// A code waits for the rate until it would be too late, within the
	// invocation's own time.
	cutoff := s.now().Add(time.Hour)
	if env.ExpiresAt != nil {
		cutoff = env.ExpiresAt.Add(-s.DeliveryMargin)
	}
	deadline := cutoff
	if d, ok := ctx.Deadline(); ok && d.Add(-2*time.Second).Before(deadline) {
		deadline = d.Add(-2 * time.Second)
	}
	late := func() error {
		s.record(ctx, Fact{Kind: PriorityCode, Outcome: OutcomeLate, Wait: s.codeWait(env)})
		s.Log.InfoContext(ctx, "code dropped as too late", "verificationId", env.VerificationID)
		if err := s.Deliveries.MarkDeliveryLate(ctx, env.VerificationID, env.Send); err != nil {
			return err
		}
		return errLate
	}
	if !s.now().Before(cutoff) {
		return nil, late()
	}
	if err := t.take(ctx, left, deadline); err != nil {
		if errors.Is(err, errNoToken) && !deadline.Before(cutoff) {
			return nil, late()
		}
		return nil, err // the invocation's time is up, or the bucket is down: retried
	}
	if !s.now().Before(cutoff) {
		return nil, late()
	}
	return func(ctx context.Context) error {
		if err := s.Provider.Send(ctx, msg.To, msg.Text); err != nil {
			s.record(ctx, Fact{Kind: PriorityCode, Outcome: OutcomeFailed})
			return err
		}
		parts, lms := partsOn(s.ProviderKind, msg.Text)
		s.record(ctx, Fact{Kind: PriorityCode, Outcome: OutcomeSent, Parts: parts, LMS: lms, Wait: s.codeWait(env)})
		return nil
	}, nil
}

// codeWait is how long a code has waited since it was queued.
func (s *Sender) codeWait(env Envelope) time.Duration {
	if env.ExpiresAt == nil || s.CodeTTL <= 0 {
		return 0
	}
	return s.now().Sub(env.ExpiresAt.Add(-s.CodeTTL))
}

// notice takes a holder notice's token and returns its send, which sends
// it once. Its failures carry no personal data; after the last receive the
// message waits in the dead-letter queue.
func (s *Sender) notice(ctx context.Context, env Envelope, t *tokens, left int) (sqsbatch.Finish, error) {
	if env.HolderKey == "" || env.Phone == "" {
		// Nobody to tell: the mismatches of a code no holder has are
		// queued like any other, so a check takes the same path whether
		// or not the code exists.
		s.Log.DebugContext(ctx, "notice without a recipient dropped", "noticeId", env.NoticeID)
		s.record(ctx, Fact{Kind: PriorityNotice, Outcome: OutcomeDropped})
		return nil, nil
	}
	if env.Text == "" || s.Notices == nil {
		return nil, errPoison
	}
	phone, err := s.Opener.Open(holder.FieldAAD(env.HolderKey, holder.FieldPhone), env.Phone)
	if err != nil {
		return nil, errPoison
	}
	// Behind the codes: wait a while for a share of the rate, then put
	// the notice back on its queue for later (nothing claimed yet).
	wait := s.NoticeWait
	if wait <= 0 {
		wait = 5 * time.Second
	}
	deadline := s.now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Add(-2*time.Second).Before(deadline) {
		deadline = d.Add(-2 * time.Second)
	}
	if err := t.take(ctx, left, deadline); err != nil {
		back := s.NoticeQueue
		if env.Bulk && s.BulkQueue != nil {
			back = s.BulkQueue
		}
		if !errors.Is(err, errNoToken) || back == nil {
			return nil, err
		}
		if err := back.enqueueNotice(ctx, env, s.NoticeDelay); err != nil {
			return nil, err
		}
		s.record(ctx, Fact{Kind: PriorityNotice, Outcome: OutcomeDeferred})
		return nil, nil
	}
	return func(ctx context.Context) error { return s.sendNotice(ctx, env, string(phone)) }, nil
}

// sendNotice sends a notice whose token is taken, unless it was sent
// already.
func (s *Sender) sendNotice(ctx context.Context, env Envelope, phone string) error {
	text, err := s.noticeText(ctx, env)
	if err != nil {
		return err
	}
	claimed, err := s.Notices.Claim(ctx, env.NoticeID)
	if err != nil {
		return err
	}
	if !claimed {
		s.Log.InfoContext(ctx, "notice already sent", "noticeId", env.NoticeID)
		s.record(ctx, Fact{Kind: PriorityNotice, Outcome: OutcomeDuplicate})
		return nil
	}
	if err := s.Provider.Send(ctx, phone, text); err != nil {
		s.record(ctx, Fact{Kind: PriorityNotice, Outcome: OutcomeFailed})
		if rErr := s.Notices.Release(ctx, env.NoticeID); rErr != nil {
			return errors.Join(err, rErr)
		}
		return err
	}
	s.Log.InfoContext(ctx, "notice sent", "noticeId", env.NoticeID)
	parts, lms := partsOn(s.ProviderKind, text)
	s.record(ctx, Fact{Kind: PriorityNotice, Outcome: OutcomeSent, Parts: parts, LMS: lms})
	if err := s.Notices.Sent(ctx, env.NoticeID); err != nil {
		// It went out: a retry would send it again once the claim lapses.
		s.Log.WarnContext(ctx, "notice sent but not marked", "noticeId", env.NoticeID, "err", err.Error())
	}
	return nil
}

// noticeText is the notice in the holder's language: English when they
// chose it and the notice has it, else Korean. Read at send time, so a
// changed choice applies to the notices still waiting.
func (s *Sender) noticeText(ctx context.Context, env Envelope) (string, error) {
	if env.TextEn == "" || s.Languages == nil {
		return env.Text, nil
	}
	sealed, err := s.Languages.SealedLanguage(ctx, env.HolderKey)
	if err != nil || sealed == "" {
		return env.Text, err
	}
	lang, err := s.Opener.Open(holder.FieldAAD(env.HolderKey, holder.FieldLanguage), sealed)
	if err != nil {
		return env.Text, nil // unreadable: Korean, the default
	}
	if string(lang) == "en" {
		return env.TextEn, nil
	}
	return env.Text, nil
}

// record is where every message's outcome is told: one log line ("sms
// outcome", which the template's failed-sends metric filter counts), this
// process's tally, and the FactRecorder. No personal data.
func (s *Sender) record(ctx context.Context, f Fact) {
	s.Log.InfoContext(ctx, "sms outcome", "kind", f.Kind.String(), "outcome", f.Outcome, "parts", f.Parts, "lms", f.LMS,
		"waitMs", f.Wait.Milliseconds())
	code := f.Kind == PriorityCode
	switch {
	case f.Outcome == OutcomeSent && code:
		tally.codesSent.Add(1)
	case f.Outcome == OutcomeSent:
		tally.noticesSent.Add(1)
	case f.Outcome == OutcomeLate:
		tally.codesLate.Add(1)
	case f.Outcome == OutcomeFailed && code:
		tally.codesFailed.Add(1)
	case f.Outcome == OutcomeFailed:
		tally.noticesFailed.Add(1)
	case f.Outcome == OutcomeDeferred:
		tally.noticesDeferred.Add(1)
	}
	tally.parts.Add(int64(f.Parts))
	if inv, ok := ctx.Value(invocationKey{}).(*invocation); ok {
		inv.mu.Lock()
		inv.facts = append(inv.facts, f)
		inv.mu.Unlock()
		return
	}
	if s.Facts != nil {
		s.Facts.Record(ctx, f)
	}
}
