package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/limits"
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

// QueuedCode is a sealed code SMS as it goes on the code queue: with its
// send number and expiry, so the sender can drop it once it could no
// longer arrive in time and mark that send (not a newer one) late.
type QueuedCode struct {
	VerificationID string
	Sealed         string
	Send           int
	ExpiresAt      time.Time
}

// Outbox queues sealed SMS for the sender; a surge of verifications waits
// there instead of failing.
type Outbox interface {
	Enqueue(ctx context.Context, c QueuedCode) error
}

// Admission decides, before the SMS step does or counts anything, whether
// a new code could still reach the phone in time (admission.Gate on the
// code queue at the provider's rate): if not, a 503 OVERLOADED with
// Retry-After and the place in line.
type Admission interface {
	Admit(ctx context.Context) (int, error)
}

// LatencyObserver is an Admission with a latency bound (admission.Gate's
// MaxLatency): told how long each admitted start took.
type LatencyObserver interface {
	Observe(d time.Duration)
}

// ChallengeStore is the verification store with the SMS step's writes.
type ChallengeStore interface {
	Get(ctx context.Context, id string) (Verification, error)
	// SaveChallenge writes next over old only if the stored state is still
	// old; otherwise ErrStale.
	SaveChallenge(ctx context.Context, id string, old, next Verification) error
	// TakePhoneTry counts a carrier check against the verification if it
	// has had fewer than limit failed ones (false: it has not);
	// GivePhoneTry takes one back, for a check that did not fail.
	TakePhoneTry(ctx context.Context, id string, limit int) (bool, error)
	GivePhoneTry(ctx context.Context, id string) error
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
	Limiter  Bounds
	Hasher   Hasher
	Sealer   Sealer
	Outbox   Outbox
	Sessions SessionIssuer
	Policy   otp.Policy
	Now      func() time.Time
	// Admission is asked before the send is counted (nil: always admitted).
	Admission Admission
}

// SendInput is the body of POST /v1/verifications/{id}/sms, with the
// client address the failed carrier checks are bounded by.
type SendInput struct {
	VerificationID, Carrier, Phone, BirthDate, Sex string
	ClientIP                                       string
	// Language is the code SMS's: "en" for English, else Korean.
	Language string
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

// personCodes is the bound on a person's wrong codes in a Korean day.
func (p *PhoneStep) personCodes(holder string) limits.Bound {
	return limits.Bound{Name: string(apperr.LimitPersonCodes), Key: "otpfail:" + holder, Limit: p.Policy.PersonLockAfter, Window: limits.KoreanDay}
}

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

// personLocked refuses a person who gave too many wrong codes today,
// across verifications, until midnight in Seoul.
func (p *PhoneStep) personLocked(ctx context.Context, holder string) error {
	wait, err := p.Limiter.Peek(ctx, p.personCodes(holder))
	if err != nil {
		return fmt.Errorf("read failures: %w", err)
	}
	if wait > 0 {
		return apperr.Limited(apperr.TooManyAttempts, apperr.LimitPersonCodes, "Too many wrong codes today. Please try again tomorrow.", wait)
	}
	return nil
}

// codesSpent is the lock of a verification whose code budget is spent:
// it stays locked until it expires (then a new one can be started).
func codesSpent(wait time.Duration) error {
	return apperr.Limited(apperr.TooManyAttempts, apperr.LimitVerificationCodes, "Too many wrong codes. Verification is locked for now.", wait)
}

// phoneTries takes a carrier check from the budgets of failed ones: the
// verification's and the person's day are taken before the carrier is
// asked, so parallel requests get no more checks than they hold, and
// given back when the check does not fail. The client address's hour is
// only read before and counted when a check fails (fail): many people
// share an address (a carrier's NAT, an office), and in a surge their
// checks in flight at once are not failures, so an address's budget is
// never spent by requests that then succeed. Parallel failures from one
// address can overrun it by those in flight, each still held by its own
// verification's and person's budgets. Each depends only on failures the
// asker could count, never on whether the phone given is the person's.
func (p *PhoneStep) phoneTries(ctx context.Context, v Verification, clientIP string, now time.Time) (release, fail func(), err error) {
	address := limits.Bound{Name: string(apperr.LimitAddressPhones), Key: "phonefailip:" + p.Hasher.Sum(PurposeClientIP, clientIP), Limit: p.Policy.PhoneFailuresPerAddress, Window: limits.Sliding(time.Hour)}
	wait, err := p.Limiter.Peek(ctx, address)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", address.Name, err)
	}
	if wait > 0 {
		return nil, nil, apperr.Limited(apperr.TooManyAttempts, apperr.LimitAddressPhones, failureMessages[address.Name], wait)
	}
	ok, err := p.Store.TakePhoneTry(ctx, v.ID, p.Policy.MaxPhoneFailures)
	if err != nil {
		return nil, nil, fmt.Errorf("take phone try: %w", err)
	}
	if !ok {
		return nil, nil, phoneTriesSpent(v, now)
	}
	taken, err := takeAll(ctx, p.Limiter, []limits.Bound{
		{Name: string(apperr.LimitPersonPhones), Key: "phonefail:" + v.HolderKey, Limit: p.Policy.PhoneFailuresPerDay, Window: limits.KoreanDay},
	}, failureMessages)
	if err != nil {
		_ = p.Store.GivePhoneTry(ctx, v.ID)
		return nil, nil, err
	}
	release = func() {
		_ = p.Store.GivePhoneTry(ctx, v.ID)
		giveAll(ctx, p.Limiter, taken)
	}
	// A count that fails leaves the address one failure short: the
	// verification's and the person's budgets still hold the asker.
	fail = func() { _, _, _ = p.Limiter.Hit(ctx, address) }
	return release, fail, nil
}

func phoneTriesSpent(v Verification, now time.Time) error {
	return apperr.Limited(apperr.TooManyAttempts, apperr.LimitVerificationPhones,
		failureMessages[string(apperr.LimitVerificationPhones)], v.ExpiresAt.Sub(now))
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
	if in.Language != "" && in.Language != "ko" && in.Language != "en" {
		fields["language"] = `must be "ko" or "en"`
	}
	if len(fields) > 0 {
		return SendResult{}, apperr.InvalidFields(fields)
	}
	// Before anything is read, counted against the person or sent: could
	// the code still reach the phone in time? Asked first, so a surge past
	// the send rate is refused for the price of the gate alone, before the
	// store is read at all.
	if p.Admission != nil {
		if _, err := p.Admission.Admit(ctx); err != nil {
			return SendResult{}, err
		}
		// What the step took from here, whatever its outcome (a store
		// slow enough to time every call out is the case to shed for),
		// feeds the gate's latency bound when it has one.
		if o, ok := p.Admission.(LatencyObserver); ok {
			started := time.Now()
			defer func() { o.Observe(time.Since(started)) }()
		}
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
	switch ok, wait := v.Challenge.CanResend(now, p.Policy); {
	case ok:
	case wait > 0:
		return SendResult{}, apperr.Limited(apperr.RateLimited, apperr.LimitResendCooldown, "A code was sent a moment ago. Please wait before asking again.", wait)
	case v.Challenge.Failures >= p.Policy.MaxAttemptsPerCode:
		return SendResult{}, codesSpent(v.ExpiresAt.Sub(now))
	default:
		return SendResult{}, apperr.Limited(apperr.TooManyAttempts, apperr.LimitVerificationSends,
			"This verification has sent all its codes. Start a new verification.", v.ExpiresAt.Sub(now))
	}
	if v.PhoneFailures >= p.Policy.MaxPhoneFailures {
		return SendResult{}, phoneTriesSpent(v, now)
	}
	plain, err := p.Sealer.Open(IdentityAAD(v.ID), v.Identity)
	if err != nil {
		return SendResult{}, fmt.Errorf("open identity: %w", err)
	}
	var who Identity
	if err := json.Unmarshal(plain, &who); err != nil {
		return SendResult{}, errors.New("open identity: not an identity")
	}
	release, fail, err := p.phoneTries(ctx, v, in.ClientIP, now)
	if err != nil {
		return SendResult{}, err
	}
	// The birth date and sex given must be those the registration number
	// proved; then the carrier must know the phone under the same person.
	// Both failures get the one answer, and count.
	match, err := p.Carrier.CheckSubscriber(ctx, otp.Subscriber{
		Carrier: carrier, Phone: phone, Name: NameKey(who.Name), BirthDate: birth, Sex: sex,
	})
	if err != nil {
		release() // the carrier did not answer: no failure
		var un *UnavailableError
		if errors.As(err, &un) {
			return SendResult{}, apperr.Wrap(err, apperr.Overloaded,
				"Phone checks are unavailable right now. Please try again shortly.").WithRetryAfter(un.RetryAfter)
		}
		return SendResult{}, fmt.Errorf("carrier: %w", err)
	}
	if !match || birth != who.BirthDate || sex != who.Sex {
		fail()
		return SendResult{}, phoneMismatch()
	}
	release()
	// The phone is the verified person's: only now does a code count
	// against it, so nobody else can spend its day.
	sent, ok, wait, err := p.Limiter.Take(ctx, limits.Bound{
		Name: string(apperr.LimitPhoneCodes), Key: "smsphone:" + p.Hasher.Sum(PurposePhone, phone),
		Limit: p.Policy.MaxSendsPerPhonePerDay, Window: limits.KoreanDay,
	})
	if err != nil {
		return SendResult{}, fmt.Errorf("count sends: %w", err)
	}
	if !ok {
		return SendResult{}, apperr.Limited(apperr.RateLimited, apperr.LimitPhoneCodes, "Too many codes were sent to this phone today.", wait)
	}
	unsent := func() { _ = p.Limiter.Give(ctx, sent) }
	code, err := otp.Generate()
	if err != nil {
		unsent()
		return SendResult{}, err
	}
	next := v
	next.Step = StepOTP
	next.DeliveryFailed, next.DeliveryLate = false, false // a new code gets a new delivery
	next.Challenge.Send(now, p.Policy, otp.Hash(p.Hasher, v.ID, code))
	if next.Phone, err = p.Sealer.Seal(PhoneAAD(v.ID), []byte(phone)); err != nil {
		unsent()
		return SendResult{}, fmt.Errorf("seal phone: %w", err)
	}
	msg, _ := json.Marshal(SMS{To: phone, Text: CodeText(code, p.Policy.CodeTTL, in.Language)})
	sealedMsg, err := p.Sealer.Seal(SMSAAD(v.ID), msg)
	if err != nil {
		unsent()
		return SendResult{}, fmt.Errorf("seal sms: %w", err)
	}
	if err := p.Store.SaveChallenge(ctx, v.ID, v, next); err != nil {
		unsent()
		if errors.Is(err, ErrStale) {
			return SendResult{}, apperr.New(apperr.Conflict, "Another request changed this verification. Please try again.")
		}
		return SendResult{}, fmt.Errorf("save challenge: %w", err)
	}
	// Queue after saving, so a code that is sent is always the live one.
	if err := p.Outbox.Enqueue(ctx, QueuedCode{
		VerificationID: v.ID, Sealed: sealedMsg, Send: next.Challenge.Sends, ExpiresAt: next.Challenge.ExpiresAt,
	}); err != nil {
		unsent()
		return SendResult{}, apperr.Wrap(err, apperr.Overloaded, "The code could not be queued. Please ask for a new one shortly.").
			WithRetryAfter(p.Policy.ResendCooldown)
	}
	return SendResult{
		SentTo:      otp.MaskPhone(phone),
		ExpiresAt:   next.Challenge.ExpiresAt,
		ResendAfter: next.Challenge.SentAt.Add(p.Policy.ResendCooldown),
	}, nil
}

// CodeText is the code's SMS, in one language ("en", else Korean) so that
// it fits one SMS part everywhere (sms.FitsOnePart).
func CodeText(code string, ttl time.Duration, lang string) string {
	if lang == "en" {
		return fmt.Sprintf("[PCCC] Verification code %s (enter within %d min). Never share it.", code, int(ttl.Minutes()))
	}
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
	if v.DeliveryLate && !v.Challenge.Used {
		e := apperr.New(apperr.VerificationFailed, "The code could not be delivered in time. Ask for a new one.")
		e.Details = map[string]any{"delivery": "late"}
		return ConfirmResult{}, e
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
			return ConfirmResult{}, codesSpent(v.ExpiresAt.Sub(now))
		}
	}
	if err := p.Store.SaveChallenge(ctx, v.ID, v, next); err != nil {
		if errors.Is(err, ErrStale) {
			return ConfirmResult{}, apperr.New(apperr.Conflict, "Another attempt is being checked. Please try again.")
		}
		return ConfirmResult{}, fmt.Errorf("save challenge: %w", err)
	}
	if outcome != otp.OK {
		if _, _, err := p.Limiter.Hit(ctx, p.personCodes(v.HolderKey)); err != nil {
			return ConfirmResult{}, fmt.Errorf("count failure: %w", err)
		}
		if outcome == otp.Locked {
			return ConfirmResult{}, codesSpent(v.ExpiresAt.Sub(now))
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
