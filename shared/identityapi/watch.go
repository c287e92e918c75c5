package identityapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/identity"
)

// HolderReader reads a holder item (dynamo.CodeStore).
type HolderReader interface {
	Holder(ctx context.Context, hk string) (dynamo.Holder, error)
}

// NumberNotifier queues the notice of a spent number (notify.Notifier).
type NumberNotifier interface {
	NumberFailuresSpent(ctx context.Context, holderKey, sealedPhone, day string) error
}

// HolderTold is the identity.NumberWatcher that tells a number's holder,
// if they have a live or suspended code, through the notice path every
// other notice takes (shared/notify, the SMS outbox, sent once per day).
// It reads the holder and queues the notice the same way for a number
// nobody holds (with no phone: the sender drops it), so the failure that
// spends a number takes the same time either way.
type HolderTold struct {
	Holders HolderReader
	Notify  NumberNotifier
}

var _ identity.NumberWatcher = (*HolderTold)(nil)

// NumberFailuresSpent reads the holder and queues the notice.
func (w *HolderTold) NumberFailuresSpent(ctx context.Context, holderKey, day string) error {
	phone := ""
	h, err := w.Holders.Holder(ctx, holderKey)
	switch {
	case err == nil:
		if h.Code != "" && holder.Status(h.Status).Live() {
			phone = h.Sealed[holder.FieldPhone]
		}
	case !errors.Is(err, holder.ErrNoHolder):
		return fmt.Errorf("read holder: %w", err)
	}
	return w.Notify.NumberFailuresSpent(ctx, holderKey, phone, day)
}
