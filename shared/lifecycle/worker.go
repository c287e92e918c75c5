package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/sqsbatch"
)

// CodeStore is what the worker needs of the code store (dynamo.CodeStore).
type CodeStore interface {
	Holder(ctx context.Context, hk string) (holder.Stored, error)
	Apply(ctx context.Context, c holder.Change) error
}

// Failer records why a request failed (dynamo.RequestStore).
type Failer interface {
	Fail(ctx context.Context, id, reason string) error
}

// ChangeNotifier tells a holder of a change to their code (notify.Notifier).
// The notice is named by the request, so queueing it again sends nothing
// twice.
type ChangeNotifier interface {
	CodeChanged(ctx context.Context, holderKey, sealedPhone, requestID string, kind holder.Kind) error
}

// RequestReader reads a request (dynamo.RequestStore).
type RequestReader interface {
	Get(ctx context.Context, id string) (holder.Request, error)
}

// ErrNotice is a change applied whose notice could not be queued: the
// message is retried, and the retry, finding the change applied, queues
// the notice again.
var ErrNotice = errors.New("the change's notice could not be queued")

// Worker carries out queued commands.
type Worker struct {
	Store    CodeStore
	Requests Failer
	// Notify hears of every change applied (nil: no notices). A change is
	// one transaction; its notice follows it, and is queued again whenever
	// the command comes back after it was applied (the worker died between
	// the two, or the queue delivered twice), so a crash loses no notice.
	Notify ChangeNotifier
	// Status tells a late duplicate of a command that succeeded, which the
	// rules now refuse (a second suspend), from a command refused outright;
	// required with Notify.
	Status RequestReader
	Policy holder.Policy
	Now    func() time.Time
	// NewCode returns a fresh code (codes.New with crypto/rand).
	NewCode func() (string, error)
	// MaxReceives is the queue's maxReceiveCount: at that receive a
	// failing command's request is marked failed before the queue moves
	// the message to the dead-letter queue.
	MaxReceives int
	Log         *slog.Logger
}

// Attempts at one command within one delivery: each retry follows a
// conflict (another change to the holder won, or a code number was taken).
// Commands for one holder that arrive together (a surge of double clicks)
// conflict with each other, so the attempts back off with jitter; only
// after all of them does the queue redeliver, a visibility timeout later.
const attemptsPerDelivery = 10

// ReasonUnprocessable is what a request says when its command ended in the
// dead-letter queue.
const ReasonUnprocessable = "The request could not be carried out. Please send it again; if it keeps failing, contact the help desk."

// Handle processes a batch, reporting each failed message by id.
func (w *Worker) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	p := &sqsbatch.Processor{Name: "command", MaxReceives: w.MaxReceives, Log: w.Log}
	return p.Process(ctx, ev, func(ctx context.Context, rec events.SQSMessage) error {
		m, err := ParseMessage(rec.Body)
		if err == nil {
			err = w.Execute(ctx, m)
		}
		if errors.Is(err, ErrNotice) && p.LastReceive(rec) {
			// The change stands; only its notice is lost. The command
			// must not end in the dead-letter queue as if it had failed.
			w.Log.ErrorContext(ctx, "notice lost after the last receive", "requestId", m.RequestID, "kind", string(m.Kind), "err", err.Error())
			return nil
		}
		if err != nil && m.RequestID != "" && p.LastReceive(rec) {
			if ferr := w.Requests.Fail(ctx, m.RequestID, ReasonUnprocessable); ferr != nil {
				return errors.Join(err, ferr)
			}
		}
		return err
	}), nil
}

// Execute carries out one command. It returns nil when the command is done
// with: applied, applied before (a duplicate delivery), or refused by the
// rules (the request then says why). An error means try again later.
func (w *Worker) Execute(ctx context.Context, m Message) error {
	for attempt := range attemptsPerDelivery {
		if attempt > 0 {
			// Up to 5 ms, then 10, 15, …: the winners finish meanwhile.
			time.Sleep(time.Duration(rand.Int64N(int64(5*time.Millisecond) * int64(attempt))))
		}
		now := w.Now().UTC()
		h, err := w.Store.Holder(ctx, m.HolderKey)
		var cur *holder.Record
		switch {
		case errors.Is(err, holder.ErrNoHolder):
			h = holder.Stored{Key: m.HolderKey}
		case err != nil:
			return err
		default:
			r := RecordOf(h)
			cur = &r
		}
		next, eff, err := holder.Decide(cur, m.Kind, m.Actor, now, w.Policy)
		if err != nil {
			var refusal *apperr.Error
			if errors.As(err, &refusal) {
				// The holder changed since the API looked, or this is a
				// late duplicate of a command that already succeeded (Fail
				// never overwrites a success).
				if err := w.Requests.Fail(ctx, m.RequestID, refusal.Message); err != nil {
					return err
				}
				return w.noticeIfSucceeded(ctx, h, m)
			}
			return err
		}
		if eff.NewCode {
			if next.Code, err = w.NewCode(); err != nil {
				return err
			}
		}
		c := holder.Change{
			RequestID: m.RequestID, Actor: string(m.Actor), Kind: eff.Count, Command: string(m.Kind),
			Counts: holder.Counts(m.Kind, m.Actor, m.Reason),
			At:     now, Old: h, New: w.stored(h, next, m),
			RetireCode: eff.RetireCode,
		}
		if eff.NewCode {
			c.NewCode = next.Code
		}
		switch err := w.Store.Apply(ctx, c); {
		case err == nil:
			w.Log.InfoContext(ctx, "command applied", "requestId", m.RequestID, "kind", string(m.Kind), "status", string(next.Status))
			return w.notice(ctx, noticePhone(h, c.New, m.Kind), m)
		case errors.Is(err, holder.ErrApplied):
			w.Log.InfoContext(ctx, "command already applied", "requestId", m.RequestID, "kind", string(m.Kind))
			return w.notice(ctx, h.Sealed[holder.FieldPhone], m)
		case errors.Is(err, holder.ErrCodeTaken), errors.Is(err, holder.ErrStaleHolder), errors.Is(err, holder.ErrAlreadyIssued):
			continue // read again and decide again
		default:
			return err
		}
	}
	return fmt.Errorf("request %s: still conflicting after %d attempts", m.RequestID, attemptsPerDelivery)
}

// noticePhone is the sealed phone a change's notice goes to: the one
// registered before the change (a changed phone's old owner hears of it),
// or the new one when there was none (an issue).
func noticePhone(old, next holder.Stored, k holder.Kind) string {
	if p := old.Sealed[holder.FieldPhone]; p != "" && k != holder.Issue {
		return p
	}
	return next.Sealed[holder.FieldPhone]
}

// notice queues the notice of an applied change.
func (w *Worker) notice(ctx context.Context, sealedPhone string, m Message) error {
	if w.Notify == nil {
		return nil
	}
	if err := w.Notify.CodeChanged(ctx, m.HolderKey, sealedPhone, m.RequestID, m.Kind); err != nil {
		return fmt.Errorf("%w: %w", ErrNotice, err)
	}
	return nil
}

// noticeIfSucceeded queues the notice of a command the rules refuse now
// but that succeeded before: a duplicate delivery after the change, maybe
// after a worker died before its notice.
func (w *Worker) noticeIfSucceeded(ctx context.Context, h holder.Stored, m Message) error {
	if w.Notify == nil || w.Status == nil {
		return nil
	}
	r, err := w.Status.Get(ctx, m.RequestID)
	if errors.Is(err, holder.ErrNoRequest) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: read request: %w", ErrNotice, err)
	}
	if r.Status != holder.RequestSucceeded {
		return nil
	}
	return w.notice(ctx, h.Sealed[holder.FieldPhone], m)
}

// stored is the holder item to write: the decided record, the sealed
// fields merged in, and when the daily job must look at it next.
func (w *Worker) stored(old holder.Stored, r holder.Record, m Message) holder.Stored {
	return Stored(old, r, m, w.Policy)
}

// Stored is the holder item a change writes: the decided record r, the
// message's sealed fields merged into old's, and when the daily job must
// look at it next.
func Stored(old holder.Stored, r holder.Record, m Message, p holder.Policy) holder.Stored {
	sealed := map[string]string{}
	if m.Kind != holder.Issue {
		maps.Copy(sealed, old.Sealed)
	}
	for k, v := range m.Sealed {
		if v == "" {
			delete(sealed, k)
		} else {
			sealed[k] = v
		}
	}
	h := holder.Stored{
		Key: m.HolderKey, Code: r.Code, Status: string(r.Status), SuspendedBy: string(r.SuspendedBy),
		IssuedAt: r.IssuedAt, ExpiresAt: r.ExpiresAt, ReissueYear: r.ReissueYear, ReissuesInYear: r.ReissuesInYear,
		Sealed: sealed,
	}
	if due, ok := r.Due(p); ok {
		h.Due = due
	}
	return h
}
