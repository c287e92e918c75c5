package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/otp"
)

// Bureau says whether a name belongs to a registration number (NICE / KCB).
// name is in NameKey form. When the bureau cannot answer, Match returns an
// error that is, or wraps, an *UnavailableError.
type Bureau interface {
	Match(ctx context.Context, name string, rrn RRN) (bool, error)
}

// UnavailableError is an outside service that cannot answer now; RetryAfter
// is when asking again makes sense.
type UnavailableError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *UnavailableError) Error() string {
	if e.Err == nil {
		return "service unavailable"
	}
	return "service unavailable: " + e.Err.Error()
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// VerificationStore keeps verifications. Get returns ErrNoVerification for
// an id that does not exist or whose verification has expired: the store
// checks expiry itself, because DynamoDB's TTL deletes items up to days late.
type VerificationStore interface {
	Put(ctx context.Context, v Verification) error
	Get(ctx context.Context, id string) (Verification, error)
}

// ErrNoVerification is a verification that does not exist or has expired.
var ErrNoVerification = errors.New("identity: no such verification")

// Limiter counts events in fixed windows: Allow records one event for key
// and says whether it is within limit, and if not how long until the window
// ends. Keys carry no personal data (they are built from keyed hashes).
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// Hasher makes purpose-separated keyed hashes (keyhash.Hasher).
type Hasher interface {
	Sum(purpose, value string) string
}

// Sealer encrypts personal fields for the place aad names (sealer.Sealer).
type Sealer interface {
	Seal(aad string, plaintext []byte) (string, error)
	Open(aad, sealed string) ([]byte, error)
}

// Hash purposes. A holder is found by PurposeHolder of the RRN digits in
// every later flow, so this label must never change.
const (
	PurposeHolder   = "holder.rrn"
	PurposeClientIP = "ratelimit.ip"
)

// Step names what a verification waits for next.
type Step string

// StepSMS is the step after the real-name check (API.md step 2).
const StepSMS Step = "sms"

// Verification is one person's way through identity verification. It holds
// no personal data in clear: the holder is a keyed hash of the registration
// number, and what later steps compare (name, birth date, sex) is sealed.
type Verification struct {
	ID        string
	HolderKey string // keyhash of the RRN digits under PurposeHolder
	Identity  string // the sealed Identity, bound to ID (IdentityAAD)
	Step      Step
	CreatedAt time.Time
	ExpiresAt time.Time

	// The SMS step's state: the one-time code (hashed), attempts and sends;
	// the phone it went to (sealed, bound to ID under PhoneAAD); and whether
	// delivery finally failed.
	Challenge      otp.Challenge
	Phone          string
	DeliveryFailed bool
}

// ErrStale is a conditional save that lost a race with another request on
// the same verification.
var ErrStale = errors.New("verification changed concurrently")

// Expired reports whether v has expired at now.
func (v Verification) Expired(now time.Time) bool { return !now.Before(v.ExpiresAt) }

// Identity is what the real-name check proved, sealed for the later steps
// (the carrier check compares name, birth date and sex).
type Identity struct {
	Name      string `json:"name"`      // normalised
	BirthDate string `json:"birthDate"` // YYYYMMDD
	Sex       string `json:"sex"`       // M or F
	Foreigner bool   `json:"foreigner"`
}

// String redacts: an Identity is personal data.
func (Identity) String() string { return "Identity(redacted)" }

// GoString redacts, for %#v.
func (Identity) GoString() string { return "Identity(redacted)" }

// LogValue redacts, for log/slog.
func (Identity) LogValue() slog.Value { return slog.StringValue("Identity(redacted)") }

// IdentityAAD names where a verification's sealed identity lives, so that it
// cannot be opened as another verification's.
func IdentityAAD(verificationID string) string { return "VER#" + verificationID + "#identity" }

// Options are a Service's dependencies and policy.
type Options struct {
	Bureau  Bureau
	Store   VerificationStore
	Limiter Limiter
	Hasher  Hasher
	Sealer  Sealer

	TTL           time.Duration // how long a verification lives
	IPPerMinute   int           // real-name checks per client IP per minute
	PersonPerHour int           // real-name checks per registration number per hour

	Now func() time.Time // nil: time.Now
}

// Service runs the real-name check.
type Service struct{ o Options }

// NewService checks the options and returns a Service.
func NewService(o Options) (*Service, error) {
	if o.Bureau == nil || o.Store == nil || o.Limiter == nil || o.Hasher == nil || o.Sealer == nil {
		return nil, errors.New("identity: service needs a bureau, store, limiter, hasher and sealer")
	}
	if o.TTL <= 0 || o.IPPerMinute < 1 || o.PersonPerHour < 1 {
		return nil, errors.New("identity: TTL and limits must be positive")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{o: o}, nil
}

// StartInput is what a person sends, with the client address for throttling.
type StartInput struct {
	Name     string
	RRN      string
	ClientIP string
}

// The one answer for a name that does not match and for a number the bureau
// does not know (DOMAIN.md: do not tell a guesser which).
const msgVerificationFailed = "The name and registration number could not be verified."

// retryUnavailable is the Retry-After hint when the bureau gave none.
const retryUnavailable = 5 * time.Second

// Start validates the input, throttles per client and per person, asks the
// bureau, and opens a verification waiting for the SMS step.
//
// A wrong name and an unknown number take exactly the same path (one bureau
// call, then one fixed error), so neither status, body nor our own timing
// tells them apart.
func (s *Service) Start(ctx context.Context, in StartInput) (Verification, error) {
	now := s.o.Now()
	fields := map[string]string{}
	name, err := NormalizeName(in.Name)
	if err != nil {
		fields["name"] = apperr.As(err).Fields["name"]
	}
	rrn, err := ParseRRNAt(in.RRN, now)
	if err != nil {
		fields["rrn"] = apperr.As(err).Fields["rrn"]
	}
	if len(fields) > 0 {
		return Verification{}, apperr.InvalidFields(fields)
	}

	holder := s.o.Hasher.Sum(PurposeHolder, rrn.Digits())
	// Per IP first: a guesser spraying numbers from one address is stopped
	// before any per-person counter is touched.
	if err := s.throttle(ctx, "ip:"+s.o.Hasher.Sum(PurposeClientIP, in.ClientIP), s.o.IPPerMinute, time.Minute); err != nil {
		return Verification{}, err
	}
	if err := s.throttle(ctx, "person:"+holder, s.o.PersonPerHour, time.Hour); err != nil {
		return Verification{}, err
	}

	match, err := s.o.Bureau.Match(ctx, NameKey(name), rrn)
	if err != nil {
		var un *UnavailableError
		if errors.As(err, &un) {
			wait := un.RetryAfter
			if wait <= 0 {
				wait = retryUnavailable
			}
			return Verification{}, apperr.Wrap(err, apperr.Overloaded,
				"Identity checks are unavailable right now. Please try again shortly.").WithRetryAfter(wait)
		}
		return Verification{}, fmt.Errorf("bureau: %w", err)
	}
	if !match {
		return Verification{}, apperr.New(apperr.VerificationFailed, msgVerificationFailed)
	}

	id, err := NewID()
	if err != nil {
		return Verification{}, err
	}
	plain, err := json.Marshal(Identity{Name: name, BirthDate: rrn.BirthDate(), Sex: rrn.Sex(), Foreigner: rrn.Foreigner()})
	if err != nil {
		return Verification{}, fmt.Errorf("encode identity: %w", err)
	}
	sealed, err := s.o.Sealer.Seal(IdentityAAD(id), plain)
	if err != nil {
		return Verification{}, fmt.Errorf("seal identity: %w", err)
	}
	v := Verification{
		ID: id, HolderKey: holder, Identity: sealed, Step: StepSMS,
		// Whole seconds: the API shows RFC 3339 without fractions, and the
		// verification must not outlive what the client was told.
		CreatedAt: now.UTC(), ExpiresAt: now.Add(s.o.TTL).UTC().Truncate(time.Second),
	}
	if err := s.o.Store.Put(ctx, v); err != nil {
		return Verification{}, fmt.Errorf("store verification: %w", err)
	}
	return v, nil
}

// Get returns a live verification; one that does not exist or has expired
// is NOT_FOUND. Expiry is checked here too, so a store that forgot to is
// still safe.
func (s *Service) Get(ctx context.Context, id string) (Verification, error) {
	v, err := s.o.Store.Get(ctx, id)
	if errors.Is(err, ErrNoVerification) || (err == nil && v.Expired(s.o.Now())) {
		return Verification{}, apperr.New(apperr.NotFound, "The verification does not exist or has expired.")
	}
	if err != nil {
		return Verification{}, fmt.Errorf("get verification: %w", err)
	}
	return v, nil
}

// OpenIdentity unseals the identity a verification proved.
func (s *Service) OpenIdentity(v Verification) (Identity, error) {
	plain, err := s.o.Sealer.Open(IdentityAAD(v.ID), v.Identity)
	if err != nil {
		return Identity{}, fmt.Errorf("open identity: %w", err)
	}
	var id Identity
	if err := json.Unmarshal(plain, &id); err != nil {
		return Identity{}, errors.New("open identity: sealed value is not an identity")
	}
	return id, nil
}

func (s *Service) throttle(ctx context.Context, key string, limit int, window time.Duration) error {
	ok, wait, err := s.o.Limiter.Allow(ctx, key, limit, window)
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if !ok {
		return apperr.New(apperr.RateLimited, "Too many requests. Please try again later.").WithRetryAfter(max(wait, time.Second))
	}
	return nil
}

// NewID returns a random, URL-safe identifier of 128 bits.
func NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
