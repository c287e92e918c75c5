package clearanceapi

import (
	"context"
	"fmt"
	"time"

	"github.com/pccc/pccc/shared/dynamo"
)

// DefaultNotifyAt is CLEARANCE_MISMATCH_NOTIFY_AT's default: the day's
// mismatches on one code at which the holder is told and the code flagged
// to the authority. A holder's own typo, or a shop's, costs one or two.
const DefaultNotifyAt = 3

// FlagStore keeps the authority's list of codes with repeated mismatches
// (dynamo.CheckStore).
type FlagStore interface {
	// Flag records the day's count and says whether the holder's notice
	// was queued already.
	Flag(ctx context.Context, code, day string, count int64, at time.Time) (notified bool, err error)
	MarkNotified(ctx context.Context, code, day string, at time.Time) error
}

// MismatchNotifier queues the holder's notice of repeated mismatches
// (notify.Notifier); "" holder and phone for a code no holder has.
type MismatchNotifier interface {
	RepeatedMismatches(ctx context.Context, holderKey, sealedPhone, code, day string) error
}

var _ FlagStore = (*dynamo.CheckStore)(nil)

// RepeatWatcher is the MismatchWatcher of repeated mismatches: from the
// Threshold-th mismatch of a code in a (Korean) day on, the code is flagged
// for the authority with the day's count, and the holder's notice is queued
// until it has been once. The notice is queued for an unknown code too
// (the sender drops it), so a guesser cannot tell by the answer's timing
// whether the code exists; the sender sends each (code, day) notice once.
type RepeatWatcher struct {
	Threshold int64
	Flags     FlagStore
	Notify    MismatchNotifier
	Now       func() time.Time
}

var _ MismatchWatcher = (*RepeatWatcher)(nil)

// Mismatched flags and notifies once the day's count reaches the threshold.
func (w *RepeatWatcher) Mismatched(ctx context.Context, m Mismatch) error {
	if m.Count < w.Threshold {
		return nil
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	at := now()
	notified, err := w.Flags.Flag(ctx, m.Code, m.Day, m.Count, at)
	if err != nil {
		return err
	}
	if notified {
		return nil
	}
	if err := w.Notify.RepeatedMismatches(ctx, m.HolderKey, m.Phone, m.Code, m.Day); err != nil {
		return fmt.Errorf("repeated mismatches: %w", err)
	}
	return w.Flags.MarkNotified(ctx, m.Code, m.Day, at)
}
