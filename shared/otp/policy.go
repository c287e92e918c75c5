package otp

import (
	"errors"
	"time"
)

// MaxCodeTTL is NIST SP 800-63B's ceiling on an SMS code's life.
const MaxCodeTTL = 10 * time.Minute

// maxPersonFailures stays well under NIST's ceiling of 100 consecutive
// failures per account.
const maxPersonFailures = 100

// Policy is the set of limits on codes. The zero value is not usable; start
// from DefaultPolicy.
type Policy struct {
	// CodeTTL is how long a code is valid after it is sent.
	CodeTTL time.Duration
	// MaxAttemptsPerCode is the failure budget of a verification. A resent
	// code inherits the failures of the codes before it, so resending never
	// buys a guesser more tries.
	MaxAttemptsPerCode int
	// PersonLockAfter wrong codes in a Korean calendar day, across all of
	// a person's verifications, lock that person out of the SMS step until
	// midnight in Seoul; it stops a guesser who opens verification after
	// verification.
	PersonLockAfter int
	// ResendCooldown is the least time between two sends of one
	// verification.
	ResendCooldown time.Duration
	// MaxSendsPerVerification bounds the codes one verification may send.
	MaxSendsPerVerification int
	// MaxSendsPerPhonePerDay bounds the codes one phone number receives
	// in a Korean calendar day. Only codes the carrier confirmed the
	// phone's subscriber for count, so nobody but the phone's own holder
	// can spend it.
	MaxSendsPerPhonePerDay int
	// Failed carrier checks (phone details that are not the verified
	// person's): MaxPhoneFailures spend a verification;
	// PhoneFailuresPerDay, across a person's verifications, lock the
	// person out of the SMS step until midnight in Seoul;
	// PhoneFailuresPerAddress bound those from one client address in a
	// sliding hour. Together they stop a search for someone's phone.
	MaxPhoneFailures        int
	PhoneFailuresPerDay     int
	PhoneFailuresPerAddress int
}

// DefaultPolicy returns the limits the system runs with.
func DefaultPolicy() Policy {
	return Policy{
		CodeTTL:                 3 * time.Minute,
		MaxAttemptsPerCode:      5,
		PersonLockAfter:         10,
		ResendCooldown:          60 * time.Second,
		MaxSendsPerVerification: 5,
		MaxSendsPerPhonePerDay:  5,
		MaxPhoneFailures:        3,
		PhoneFailuresPerDay:     10,
		PhoneFailuresPerAddress: 30,
	}
}

// Validate reports the first limit that is out of range. A config that
// breaks the standards (a code living over ten minutes, a failure budget
// near NIST's ceiling) is refused at start-up rather than run.
func (p Policy) Validate() error {
	switch {
	case p.CodeTTL <= 0 || p.CodeTTL > MaxCodeTTL:
		return errors.New("otp policy: CodeTTL must be above zero and at most 10m")
	case p.MaxAttemptsPerCode < 1 || p.MaxAttemptsPerCode > 10:
		return errors.New("otp policy: MaxAttemptsPerCode must be 1 to 10")
	case p.PersonLockAfter < p.MaxAttemptsPerCode || p.PersonLockAfter >= maxPersonFailures:
		return errors.New("otp policy: PersonLockAfter must be at least MaxAttemptsPerCode and below 100")
	case p.ResendCooldown <= 0 || p.ResendCooldown > p.CodeTTL:
		return errors.New("otp policy: ResendCooldown must be above zero and at most CodeTTL")
	case p.MaxSendsPerVerification < 1:
		return errors.New("otp policy: MaxSendsPerVerification must be at least 1")
	case p.MaxSendsPerPhonePerDay < 1:
		return errors.New("otp policy: MaxSendsPerPhonePerDay must be at least 1")
	case p.MaxPhoneFailures < 1 || p.MaxPhoneFailures > 10:
		return errors.New("otp policy: MaxPhoneFailures must be 1 to 10")
	case p.PhoneFailuresPerDay < p.MaxPhoneFailures || p.PhoneFailuresPerDay >= maxPersonFailures:
		return errors.New("otp policy: PhoneFailuresPerDay must be at least MaxPhoneFailures and below 100")
	case p.PhoneFailuresPerAddress < 1:
		return errors.New("otp policy: PhoneFailuresPerAddress must be at least 1")
	}
	return nil
}
