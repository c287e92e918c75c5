package identity

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

// Bureau says whether a normalised name belongs to a registration number.
// When it cannot answer it returns an *UnavailableError.
type Bureau interface {
	Match(ctx context.Context, name string, rrn RRN) (bool, error)
}

// UnavailableError is an outside service that cannot answer now.
type UnavailableError struct {
	RetryAfter time.Duration
	Err        error
}

func (e *UnavailableError) Error() string { return "service unavailable: " + e.Err.Error() }
func (e *UnavailableError) Unwrap() error { return e.Err }

// VerificationStore keeps verifications.
type VerificationStore interface {
	Put(ctx context.Context, v Verification) error
	// Get returns ErrNoVerification when there is none.
	Get(ctx context.Context, id string) (Verification, error)
}

// ErrNoVerification is a verification that does not exist.
var ErrNoVerification = errors.New("no such verification")

// Limiter counts events in fixed windows: Allow records one event for key
// and says whether it is within limit, and if not how long until the window
// ends.
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// Hasher makes keyed hashes (keyhash.Hasher).
type Hasher interface {
	Sum(purpose, value string) string
}

// Sealer encrypts personal fields (sealer.Sealer).
type Sealer interface {
	Seal(plaintext []byte, aad string) (string, error)
	Open(sealed, aad string) ([]byte, error)
}

// Step names what a verification waits for next.
type Step string

// StepSMS is the first step after the real-name check.
const StepSMS Step = "sms"

// Verification is one person's way through identity verification. It holds
// no personal data in clear: the holder is a keyed hash of the registration
// number, and what later steps must compare (name, birth date, sex) is
// sealed.
type Verification struct {
	ID        string
	HolderKey string
	// Identity is the sealed Identity, bound to this verification's id.
	Identity  string
	Step      Step
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Expired reports whether v has expired at now. The code checks this itself;
// the table's TTL only cleans up, sometimes days late.
func (v Verification) Expired(now time.Time) bool { return !now.Before(v.ExpiresAt) }

// Identity is what the real-name check proved, kept sealed for the next
// steps (the carrier check compares name, birth date and sex).
type Identity struct {
	Name      string `json:"name"`
	BirthDate string `json:"birthDate"`
	Sex       string `json:"sex"`
	Foreigner bool   `json:"foreigner"`
}

// IdentityAAD binds a sealed identity to its verification.
func IdentityAAD(verificationID string) string { return "VER#" + verificationID + "/identity" }

// Limits are the throttles on the real-name check.
type Limits struct {
	PerIPPerMinute   int
	PerPersonPerHour int
}

// Service runs the real-name check.
type Service struct {
	Bureau Bureau
	Store  VerificationStore
	Limit  Limiter
	Hash   Hasher
	Seal   Sealer
	Limits Limits
	TTL    time.Duration
	Now    func() time.Time
}

// StartInput is what a person sends.
type StartInput struct {
	Name     string
	RRN      string
	ClientIP string
}

// verificationFailed is the one answer for a name that does not match and
// for a number the bureau does not know.
func verificationFailed() error {
	return apperr.New(apperr.VerificationFailed, "The name and registration number could not be verified.")
}

// Start checks name and registration number with the bureau and opens a
// verification. A wrong name and an unknown number take the same path and
// get the same error.
func (s *Service) Start(ctx context.Context, in StartInput) (Verification, error) {
	now := s.Now()
	fields := map[string]string{}
	name, err := NormalizeName(in.Name)
	if err != nil {
		fields["name"] = apperr.As(err).Fields["name"]
	}
	rrn, err := ParseRRN(in.RRN, now)
	if err != nil {
		fields["rrn"] = apperr.As(err).Fields["rrn"]
	}
	if len(fields) > 0 {
		return Verification{}, apperr.InvalidFields(fields)
	}
	holder := s.Hash.Sum("holder", rrn.Digits())
	if err := s.throttle(ctx, "ip:"+s.Hash.Sum("ip", in.ClientIP), s.Limits.PerIPPerMinute, time.Minute); err != nil {
		return Verification{}, err
	}
	if err := s.throttle(ctx, "person:"+holder, s.Limits.PerPersonPerHour, time.Hour); err != nil {
		return Verification{}, err
	}
	match, err := s.Bureau.Match(ctx, name, rrn)
	if err != nil {
		var un *UnavailableError
		if errors.As(err, &un) {
			return Verification{}, apperr.Wrap(err, apperr.Overloaded,
				"Identity checks are unavailable right now. Please try again shortly.").WithRetryAfter(un.RetryAfter)
		}
		return Verification{}, fmt.Errorf("bureau: %w", err)
	}
	if !match {
		return Verification{}, verificationFailed()
	}
	id, err := NewID()
	if err != nil {
		return Verification{}, err
	}
	plain, _ := json.Marshal(Identity{Name: name, BirthDate: rrn.BirthDate(), Sex: rrn.Sex(), Foreigner: rrn.Foreigner()})
	sealed, err := s.Seal.Seal(plain, IdentityAAD(id))
	if err != nil {
		return Verification{}, fmt.Errorf("seal identity: %w", err)
	}
	v := Verification{
		ID: id, HolderKey: holder, Identity: sealed, Step: StepSMS,
		CreatedAt: now.UTC(), ExpiresAt: now.Add(s.TTL).UTC().Truncate(time.Second),
	}
	if err := s.Store.Put(ctx, v); err != nil {
		return Verification{}, fmt.Errorf("store verification: %w", err)
	}
	return v, nil
}

func (s *Service) throttle(ctx context.Context, key string, limit int, window time.Duration) error {
	ok, wait, err := s.Limit.Allow(ctx, key, limit, window)
	if err != nil {
		return fmt.Errorf("throttle: %w", err)
	}
	if !ok {
		return apperr.New(apperr.RateLimited, "Too many requests. Please try again later.").WithRetryAfter(wait)
	}
	return nil
}

// NewID returns a random, URL-safe id of 128 bits.
func NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
