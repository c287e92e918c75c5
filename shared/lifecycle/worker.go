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
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/sqsbatch"
	"github.com/pccc/pccc/shared/stats"
)

// CodeStore is what the worker needs of the code store (dynamo.CodeStore).
type CodeStore interface {
	Holder(ctx context.Context, hk string) (dynamo.Holder, error)
	Apply(ctx context.Context, c dynamo.Change) error
}

// Failer records why a request failed (dynamo.RequestStore).
type Failer interface {
	Fail(ctx context.Context, id, reason string) error
}

// Worker carries out queued commands.
type Worker struct {
	Store    CodeStore
	Requests Failer
	Policy   holder.Policy
	Now      func() time.Time
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
		case errors.Is(err, dynamo.ErrNoHolder):
			h = dynamo.Holder{Key: m.HolderKey}
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
				return w.Requests.Fail(ctx, m.RequestID, refusal.Message)
			}
			return err
		}
		if eff.NewCode {
			if next.Code, err = w.NewCode(); err != nil {
				return err
			}
		}
		c := dynamo.Change{
			RequestID: m.RequestID, Actor: string(m.Actor), Kind: eff.Count, Command: string(m.Kind),
			At: now, Day: stats.Day(now), Old: h, New: w.stored(h, next, m),
			RetireCode: eff.RetireCode,
		}
		if eff.NewCode {
			c.NewCode = next.Code
		}
		switch err := w.Store.Apply(ctx, c); {
		case err == nil:
			w.Log.InfoContext(ctx, "command applied", "requestId", m.RequestID, "kind", string(m.Kind), "status", string(next.Status))
			return nil
		case errors.Is(err, dynamo.ErrApplied):
			w.Log.InfoContext(ctx, "command already applied", "requestId", m.RequestID, "kind", string(m.Kind))
			return nil
		case errors.Is(err, dynamo.ErrCodeTaken), errors.Is(err, dynamo.ErrStaleHolder), errors.Is(err, dynamo.ErrAlreadyIssued):
			continue // read again and decide again
		default:
			return err
		}
	}
	return fmt.Errorf("request %s: still conflicting after %d attempts", m.RequestID, attemptsPerDelivery)
}

// stored is the holder item to write: the decided record, the sealed
// fields merged in, and when the daily job must look at it next.
func (w *Worker) stored(old dynamo.Holder, r holder.Record, m Message) dynamo.Holder {
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
	h := dynamo.Holder{
		Key: m.HolderKey, Code: r.Code, Status: string(r.Status), SuspendedBy: string(r.SuspendedBy),
		IssuedAt: r.IssuedAt, ExpiresAt: r.ExpiresAt, ReissueYear: r.ReissueYear, ReissuesInYear: r.ReissuesInYear,
		Sealed: sealed,
	}
	if due, ok := r.Due(w.Policy); ok {
		h.Due = due
	}
	return h
}
