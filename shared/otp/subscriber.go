package otp

import (
	"context"
	"log/slog"
)

// Subscriber is what the SMS step asks a carrier to confirm: that the phone
// is subscribed by this person. Fields are in canonical form: Carrier from
// ParseCarrier, Phone from ParsePhone, Name in identity.NameKey form,
// BirthDate from ParseBirthDate, Sex from ParseSex.
type Subscriber struct {
	Carrier   string
	Phone     string
	Name      string
	BirthDate string
	Sex       string
}

const redactedSubscriber = "Subscriber(redacted)"

// String redacts: a Subscriber is personal data through and through.
func (Subscriber) String() string { return redactedSubscriber }

// GoString redacts, for %#v.
func (Subscriber) GoString() string { return redactedSubscriber }

// LogValue redacts, for slog.
func (Subscriber) LogValue() slog.Value { return slog.StringValue(redactedSubscriber) }

// SubscriberChecker asks the person's carrier whether the phone is theirs
// (shared/carrier.Client implements it). A carrier that cannot answer now
// returns an error that is, or wraps, an *identity.UnavailableError; a
// mismatch is (false, nil), and so is an unknown phone, so the caller
// cannot tell the two apart.
type SubscriberChecker interface {
	CheckSubscriber(ctx context.Context, s Subscriber) (bool, error)
}
