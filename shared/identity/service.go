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
	"github.com/pccc/pccc/shared/limits"
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
	// Put stores a new verification (a check the bureau matched) and
	// counts it.
	Put(ctx context.Context, v Verification) error
	// Unmatched counts a check the bureau did not match; nothing is
	// stored of it.
	Unmatched(ctx context.Context, at time.Time) error
	Get(ctx context.Context, id string) (Verification, error)
}

// ErrNoVerification is a verification that does not exist or has expired.
var ErrNoVerification = errors.New("identity: no such verification")

// Bounds keeps the counters of the limits (dynamo.Limiter). Hit counts an
// event whether or not it fits; Take counts it only if it fits, to be
// given back (Give) when it turns out not to count; Peek only reads. Each
// says the true wait when there is no room. Keys carry no personal data
// (they are built from keyed hashes).
type Bounds interface {
	Hit(ctx context.Context, b limits.Bound) (ok bool, wait time.Duration, err error)
	Take(ctx context.Context, b limits.Bound) (t limits.Taken, ok bool, wait time.Duration, err error)
	Give(ctx context.Context, t limits.Taken) error
	Peek(ctx context.Context, b limits.Bound) (wait time.Duration, err error)
}

// NumberWatcher hears when a registration number's failed checks for the
// Korean day reach their bound, from whatever addresses: it tells the
// number's holder, if they have a code. It is called the same way for a
// number nobody holds, so the work done says nothing about the number.
type NumberWatcher interface {
	NumberFailuresSpent(ctx context.Context, holderKey, day string) error
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
	// delivery finally failed, or the code was dropped as too late to
	// reach the phone before it expired.
	Challenge      otp.Challenge
	Phone          string
	DeliveryFailed bool
	DeliveryLate   bool
	// PhoneFailures counts failed carrier checks (ChallengeStore's
	// TakePhoneTry); MaxPhoneFailures of them spend the verification.
	PhoneFailures int
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
	Limiter Bounds
	Hasher  Hasher
	Sealer  Sealer
	Watch   NumberWatcher

	TTL time.Duration // how long a verification lives
	// IPPerMinute: checks per client address, a sliding minute, counted
	// whatever their outcome.
	IPPerMinute int
	// PersonPerHour: verifications opened per registration number, a
	// sliding hour, counted on a match only.
	PersonPerHour int
	// FailsPerAddress: failed checks of one number from one client
	// address, a sliding hour (the tight bound); FailsPerDay: failed
	// checks of one number from anywhere, a Korean day (the loose bound,
	// which tells the holder when it is spent).
	FailsPerAddress int
	FailsPerDay     int

	Now func() time.Time // nil: time.Now
}

// Service runs the real-name check.
type Service struct{ o Options }

// NewService checks the options and returns a Service.
func NewService(o Options) (*Service, error) {
	if o.Bureau == nil || o.Store == nil || o.Limiter == nil || o.Hasher == nil || o.Sealer == nil || o.Watch == nil {
		return nil, errors.New("identity: service needs a bureau, store, limiter, hasher, sealer and watcher")
	}
	if o.TTL <= 0 || o.IPPerMinute < 1 || o.PersonPerHour < 1 || o.FailsPerAddress < 1 || o.FailsPerDay < o.FailsPerAddress {
		return nil, errors.New("identity: TTL and limits must be positive, and the failures a day at least those per address")
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

// Start validates the input, throttles, asks the bureau, and opens a
// verification waiting for the SMS step.
//
// Only failures count against a registration number, so a stranger
// cannot lock its owner out by trying names: per (number, client address)
// tightly, per number loosely; the right name from another address goes
// on unless the loose bound is spent. Both failure budgets are taken
// before the bureau is asked (so a flood in parallel asks no more often
// than they allow) and given back on a match.
//
// A wrong name and an unknown number take exactly the same path (the same
// counters, one bureau call, then one fixed error), so neither status,
// body nor our own timing tells them apart; a refusal before the bureau
// depends only on failures, which a number nobody holds collects alike.
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
	ip := s.o.Hasher.Sum(PurposeClientIP, in.ClientIP)
	// The client's own rate first: a guesser spraying numbers from one
	// address is stopped before any per-number counter is touched.
	if ok, wait, err := s.o.Limiter.Hit(ctx, limits.Bound{
		Name: string(apperr.LimitAddressRate), Key: "ip:" + ip, Limit: s.o.IPPerMinute, Window: limits.Sliding(time.Minute),
	}); err != nil {
		return Verification{}, fmt.Errorf("throttle: %w", err)
	} else if !ok {
		return Verification{}, apperr.Limited(apperr.RateLimited, apperr.LimitAddressRate,
			"Too many requests from your network. Please try again later.", wait)
	}
	number := limits.Bound{Name: string(apperr.LimitNumberFailures), Key: "rrnfail:" + holder, Limit: s.o.FailsPerDay, Window: limits.KoreanDay}
	taken, err := takeAll(ctx, s.o.Limiter, []limits.Bound{
		{Name: string(apperr.LimitNumberAddressFailure), Key: "rrnfail:" + holder + ":" + ip, Limit: s.o.FailsPerAddress, Window: limits.Sliding(time.Hour)},
		number,
	}, failureMessages)
	if err != nil {
		return Verification{}, err
	}

	match, err := s.o.Bureau.Match(ctx, NameKey(name), rrn)
	if err != nil {
		giveAll(ctx, s.o.Limiter, taken) // not a failure of the person's
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
		if err := s.o.Store.Unmatched(ctx, now); err != nil {
			return Verification{}, fmt.Errorf("count check: %w", err)
		}
		if taken[1].Count == int64(number.Limit) {
			// This failure spends the number's day: tell the holder.
			if err := s.o.Watch.NumberFailuresSpent(ctx, holder, limits.Day(now)); err != nil {
				// Given back, so the next failure spends it again and
				// the notice is tried again.
				giveAll(ctx, s.o.Limiter, taken)
				return Verification{}, fmt.Errorf("number failures notice: %w", err)
			}
		}
		return Verification{}, apperr.New(apperr.VerificationFailed, msgVerificationFailed)
	}
	giveAll(ctx, s.o.Limiter, taken)
	// Counted on a match only: only someone who knows the name can see it.
	if ok, wait, err := s.o.Limiter.Hit(ctx, limits.Bound{
		Name: string(apperr.LimitPersonVerifications), Key: "person:" + holder, Limit: s.o.PersonPerHour, Window: limits.Sliding(time.Hour),
	}); err != nil {
		return Verification{}, fmt.Errorf("throttle: %w", err)
	} else if !ok {
		return Verification{}, apperr.Limited(apperr.RateLimited, apperr.LimitPersonVerifications,
			"Too many verifications for you this hour. Please try again later.", wait)
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

// failureMessages are the refusals of spent failure budgets.
var failureMessages = map[string]string{
	string(apperr.LimitNumberAddressFailure): "Too many failed checks of this registration number from your network. Please try again later.",
	string(apperr.LimitNumberFailures):       "Too many failed checks of this registration number today. Please try again tomorrow.",
	string(apperr.LimitVerificationPhones):   "Too many phone details could not be verified. Start a new verification.",
	string(apperr.LimitPersonPhones):         "Too many phone details could not be verified today. Please try again tomorrow.",
	string(apperr.LimitAddressPhones):        "Too many phone checks failed from your network. Please try again later.",
}

// takeAll takes one event from each bound, in order; at the first without
// room it gives back those taken and answers 429 TOO_MANY_ATTEMPTS naming
// it, with its true wait.
func takeAll(ctx context.Context, c Bounds, bounds []limits.Bound, messages map[string]string) ([]limits.Taken, error) {
	taken := make([]limits.Taken, 0, len(bounds))
	for _, b := range bounds {
		t, ok, wait, err := c.Take(ctx, b)
		if err != nil || !ok {
			giveAll(ctx, c, taken)
		}
		if err != nil {
			return nil, fmt.Errorf("take %s: %w", b.Name, err)
		}
		if !ok {
			return nil, apperr.Limited(apperr.TooManyAttempts, apperr.Limit(b.Name), messages[b.Name], wait)
		}
		taken = append(taken, t)
	}
	return taken, nil
}

// giveAll gives back events that turned out not to count. A give that
// fails leaves one failure too many counted until the window passes: the
// safe side, so its error is not the person's.
func giveAll(ctx context.Context, c Bounds, taken []limits.Taken) {
	for _, t := range taken {
		_ = c.Give(ctx, t)
	}
}

// NewID returns a random, URL-safe identifier of 128 bits.
func NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
