package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/otp"
)

// StepOTP waits for the one-time code sent by SMS.
const StepOTP Step = "otp"

// PurposePhone hashes phone numbers for the per-phone send limit.
const PurposePhone = "ratelimit.phone"

// PhoneAAD binds the sealed phone number to its verification.
func PhoneAAD(verificationID string) string { return "VER#" + verificationID + "/phone" }

// SMSAAD binds a sealed outbox message to its verification.
func SMSAAD(verificationID string) string { return "VER#" + verificationID + "/sms" }

// SMS is an outgoing text, sealed while it waits in the outbox queue.
type SMS struct {
	To   string `json:"to"`
	Text string `json:"text"`
}

// Outbox queues sealed SMS for the sender; a surge of verifications waits
// there instead of failing.
type Outbox interface {
	Enqueue(ctx context.Context, verificationID, sealed string) error
}

// ChallengeStore is the verification store with the SMS step's writes.
type ChallengeStore interface {
	Get(ctx context.Context, id string) (Verification, error)
	// SaveChallenge writes next over old only if the stored state is still
	// old; otherwise ErrStale.
	SaveChallenge(ctx context.Context, id string, old, next Verification) error
}

// FailureCounter is a Limiter that can also be read without counting.
type FailureCounter interface {
	Limiter
	Peek(ctx context.Context, key string, window time.Duration) (int, error)
}

// SessionIssuer signs holder session tokens (session.Issuer).
type SessionIssuer interface {
	Issue(holderKey, verificationID string) (token string, expiresAt time.Time, err error)
}

// PhoneStep runs API.md's steps 2 and 3: the carrier check and the SMS code,
// then its confirmation, which yields a session token.
type PhoneStep struct {
	Store    ChallengeStore
	Carrier  otp.SubscriberChecker
	Limiter  FailureCounter
	Hasher   Hasher
	Sealer   Sealer
	Outbox   Outbox
	Sessions SessionIssuer
	Policy   otp.Policy
	Now      func() time.Time
}

// SendInput is the body of POST /v1/verifications/{id}/sms.
type SendInput struct {
	VerificationID, Carrier, Phone, BirthDate, Sex string
}

// SendResult is what the person is told.
type SendResult struct {
	SentTo      string
	ExpiresAt   time.Time
	ResendAfter time.Time
}

var errNoVerification = apperr.New(apperr.NotFound, "This verification does not exist or has expired.")

func phoneMismatch() error {
	return apperr.New(apperr.VerificationFailed, "The phone details could not be verified.")
}

func (p *PhoneStep) personKey(holder string) string { return "otpfail:" + holder }

func (p *PhoneStep) load(ctx context.Context, id string) (Verification, error) {
	v, err := p.Store.Get(ctx, id)
	if errors.Is(err, ErrNoVerification) {
		return Verification{}, errNoVerification
	}
	if err != nil {
		return Verification{}, fmt.Errorf("get verification: %w", err)
	}
	return v, nil
}

// personLocked refuses a person who failed too often across verifications.
func (p *PhoneStep) personLocked(ctx context.Context, holder string) error {
	n, err := p.Limiter.Peek(ctx, p.personKey(holder), p.Policy.PersonLockWindow)
	if err != nil {
		return fmt.Errorf("read failures: %w", err)
	}
	if p.Policy.PersonLocked(n) {
		return tooManyAttempts(p.Policy.PersonLockWindow)
	}
	return nil
}

func tooManyAttempts(wait time.Duration) error {
	return apperr.New(apperr.TooManyAttempts, "Too many wrong codes. Verification is locked for now.").WithRetryAfter(wait)
}

// Send checks the phone with its carrier and sends a new code.
func (p *PhoneStep) Send(ctx context.Context, in SendInput) (SendResult, error) {
	now := p.Now()
	fields := map[string]string{}
	carrier, err := otp.ParseCarrier(in.Carrier)
	collect(fields, "carrier", err)
	phone, err := otp.ParsePhone(in.Phone)
	collect(fields, "phone", err)
	birth, err := otp.ParseBirthDateAt(in.BirthDate, now)
	collect(fields, "birthDate", err)
	sex, err := otp.ParseSex(in.Sex)
	collect(fields, "sex", err)
	if len(fields) > 0 {
		return SendResult{}, apperr.InvalidFields(fields)
	}
	v, err := p.load(ctx, in.VerificationID)
	if err != nil {
		return SendResult{}, err
	}
	if v.Challenge.Used {
		return SendResult{}, apperr.New(apperr.Conflict, "This verification is already complete.")
	}
	if err := p.personLocked(ctx, v.HolderKey); err != nil {
		return SendResult{}, err
	}
	if ok, wait := v.Challenge.CanResend(now, p.Policy); !ok {
		if wait > 0 {
			return SendResult{}, apperr.New(apperr.RateLimited, "A code was sent a moment ago. Please wait before asking again.").WithRetryAfter(wait)
		}
		return SendResult{}, tooManyAttempts(v.ExpiresAt.Sub(now))
	}
	plain, err := p.Sealer.Open(IdentityAAD(v.ID), v.Identity)
	if err != nil {
		return SendResult{}, fmt.Errorf("open identity: %w", err)
	}
	var who Identity
	if err := json.Unmarshal(plain, &who); err != nil {
		return SendResult{}, errors.New("open identity: not an identity")
	}
	ok, wait, err := p.Limiter.Allow(ctx, "smsphone:"+p.Hasher.Sum(PurposePhone, phone), p.Policy.MaxSendsPerPhonePerDay, 24*time.Hour)
	if err != nil {
		return SendResult{}, fmt.Errorf("count sends: %w", err)
	}
	if !ok {
		return SendResult{}, apperr.New(apperr.RateLimited, "Too many codes were sent to this phone today.").WithRetryAfter(wait)
	}
	// The birth date and sex given must be those the registration number
	// proved; then the carrier must know the phone under the same person.
	// Both failures get the one answer.
	match, err := p.Carrier.CheckSubscriber(ctx, otp.Subscriber{
		Carrier: carrier, Phone: phone, Name: NameKey(who.Name), BirthDate: birth, Sex: sex,
	})
	if err != nil {
		var un *UnavailableError
		if errors.As(err, &un) {
			return SendResult{}, apperr.Wrap(err, apperr.Overloaded,
				"Phone checks are unavailable right now. Please try again shortly.").WithRetryAfter(un.RetryAfter)
		}
		return SendResult{}, fmt.Errorf("carrier: %w", err)
	}
	if !match || birth != who.BirthDate || sex != who.Sex {
		return SendResult{}, phoneMismatch()
	}
	code, err := otp.Generate()
	if err != nil {
		return SendResult{}, err
	}
	next := v
	next.Step = StepOTP
	next.DeliveryFailed = false // a new code gets a new delivery
	next.Challenge.Send(now, p.Policy, otp.Hash(p.Hasher, v.ID, code))
	if next.Phone, err = p.Sealer.Seal(PhoneAAD(v.ID), []byte(phone)); err != nil {
		return SendResult{}, fmt.Errorf("seal phone: %w", err)
	}
	msg, _ := json.Marshal(SMS{To: phone, Text: smsText(code, p.Policy.CodeTTL)})
	sealedMsg, err := p.Sealer.Seal(SMSAAD(v.ID), msg)
	if err != nil {
		return SendResult{}, fmt.Errorf("seal sms: %w", err)
	}
	if err := p.Store.SaveChallenge(ctx, v.ID, v, next); err != nil {
		if errors.Is(err, ErrStale) {
			return SendResult{}, apperr.New(apperr.Conflict, "Another request changed this verification. Please try again.")
		}
		return SendResult{}, fmt.Errorf("save challenge: %w", err)
	}
	// Queue after saving, so a code that is sent is always the live one.
	if err := p.Outbox.Enqueue(ctx, v.ID, sealedMsg); err != nil {
		return SendResult{}, apperr.Wrap(err, apperr.Overloaded, "The code could not be queued. Please ask for a new one shortly.").
			WithRetryAfter(p.Policy.ResendCooldown)
	}
	return SendResult{
		SentTo:      otp.MaskPhone(phone),
		ExpiresAt:   next.Challenge.ExpiresAt,
		ResendAfter: next.Challenge.SentAt.Add(p.Policy.ResendCooldown),
	}, nil
}

func smsText(code string, ttl time.Duration) string {
	return fmt.Sprintf("[개인통관고유부호] 인증번호 %s (%d분 안에 입력). 누구에게도 알려주지 마세요.", code, int(ttl.Minutes()))
}

func collect(fields map[string]string, name string, err error) {
	if err != nil {
		fields[name] = apperr.As(err).Fields[name]
	}
}

// ConfirmResult is a successful confirmation.
type ConfirmResult struct {
	SessionToken string
	ExpiresAt    time.Time
}

var codePattern = regexp.MustCompile(`^[0-9]{6}$`)

// Confirm checks a code. Each attempt is saved on the condition that no
// other attempt changed the verification in between, so a flood of parallel
// guesses spends the budget one try at a time and gets no more tries
// through than the policy allows.
func (p *PhoneStep) Confirm(ctx context.Context, id, code string) (ConfirmResult, error) {
	if !codePattern.MatchString(code) {
		return ConfirmResult{}, apperr.InvalidField("otp", "must be the 6 digits of the code")
	}
	now := p.Now()
	v, err := p.load(ctx, id)
	if err != nil {
		return ConfirmResult{}, err
	}
	if err := p.personLocked(ctx, v.HolderKey); err != nil {
		return ConfirmResult{}, err
	}
	if v.DeliveryFailed && !v.Challenge.Used {
		e := apperr.New(apperr.VerificationFailed, "The code could not be delivered. Ask for a new one.")
		e.Details = map[string]any{"delivery": "failed"}
		return ConfirmResult{}, e
	}
	matches := otp.Matches(p.Hasher, v.ID, code, v.Challenge.CodeHash)
	next := v
	outcome, left := next.Challenge.Check(now, p.Policy, matches)
	switch outcome {
	case otp.AlreadyUsed:
		return ConfirmResult{}, apperr.New(apperr.Conflict, "This code was already used. Start a new verification.")
	case otp.Expired:
		return ConfirmResult{}, codeFailed(left, "The code has expired or none was sent. Ask for a new one.")
	case otp.Locked:
		if v.Challenge.Failures >= p.Policy.MaxAttemptsPerCode {
			return ConfirmResult{}, tooManyAttempts(v.ExpiresAt.Sub(now))
		}
	}
	if err := p.Store.SaveChallenge(ctx, v.ID, v, next); err != nil {
		if errors.Is(err, ErrStale) {
			return ConfirmResult{}, apperr.New(apperr.Conflict, "Another attempt is being checked. Please try again.")
		}
		return ConfirmResult{}, fmt.Errorf("save challenge: %w", err)
	}
	if outcome != otp.OK {
		if _, _, err := p.Limiter.Allow(ctx, p.personKey(v.HolderKey), p.Policy.PersonLockAfter, p.Policy.PersonLockWindow); err != nil {
			return ConfirmResult{}, fmt.Errorf("count failure: %w", err)
		}
		if outcome == otp.Locked {
			return ConfirmResult{}, tooManyAttempts(v.ExpiresAt.Sub(now))
		}
		return ConfirmResult{}, codeFailed(left, "The code is not right.")
	}
	token, exp, err := p.Sessions.Issue(v.HolderKey, v.ID)
	if err != nil {
		return ConfirmResult{}, fmt.Errorf("issue session: %w", err)
	}
	return ConfirmResult{SessionToken: token, ExpiresAt: exp}, nil
}

func codeFailed(left int, msg string) error {
	e := apperr.New(apperr.VerificationFailed, msg)
	e.Details = map[string]any{"attemptsLeft": left}
	return e
}
