package otp

import "time"

// Outcome is what Check decided about an entered code.
type Outcome int

const (
	// OK: the code is right; the challenge is now used.
	OK Outcome = iota + 1
	// Wrong: the code is wrong and attempts are left.
	Wrong
	// Locked: the failure budget is spent (possibly by this attempt).
	Locked
	// Expired: the code's time is up; a new one must be sent.
	Expired
	// AlreadyUsed: the code was accepted before; it works once only.
	AlreadyUsed
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Wrong:
		return "wrong"
	case Locked:
		return "locked"
	case Expired:
		return "expired"
	case AlreadyUsed:
		return "already_used"
	}
	return "unknown"
}

// Challenge is the code state of one verification, as stored with it. The
// zero value is a challenge that has sent nothing yet. Its methods only
// decide and update the struct; the caller persists it (with a condition on
// the old state, so two concurrent checks cannot both spend one attempt).
type Challenge struct {
	CodeHash  string // Hash of the live code; never the code itself
	SentAt    time.Time
	ExpiresAt time.Time
	Failures  int  // wrong codes over the whole verification
	Used      bool // a code was accepted
	Sends     int  // codes sent so far
}

// CanResend reports whether a new code may be sent now. When it may not
// because of the cooldown, retryAfter says how long to wait; it is zero when
// waiting will not help (the challenge is used, locked, or out of sends).
func (c Challenge) CanResend(now time.Time, p Policy) (ok bool, retryAfter time.Duration) {
	if c.Used || c.Failures >= p.MaxAttemptsPerCode || c.Sends >= p.MaxSendsPerVerification {
		return false, 0
	}
	if c.Sends > 0 {
		if wait := c.SentAt.Add(p.ResendCooldown).Sub(now); wait > 0 {
			return false, wait
		}
	}
	return true, 0
}

// Send records that a new code, whose hash is codeHash, was sent at now.
// It replaces the old code, which stops working, and keeps Failures: a
// resend must not refill the failure budget. Call it only after CanResend
// said yes.
func (c *Challenge) Send(now time.Time, p Policy, codeHash string) {
	c.CodeHash = codeHash
	c.SentAt = now
	c.ExpiresAt = now.Add(p.CodeTTL)
	c.Sends++
}

// Check decides an attempt; matches is Matches's verdict on the entered
// code. It updates the challenge (a failure counted, or the code used) and
// returns the outcome and the attempts left after it.
//
// Order matters: a used challenge stays used, a spent budget stays locked
// even for the right code (a guesser who got lucky on attempt six must not
// win), and an expired code neither succeeds nor costs an attempt.
func (c *Challenge) Check(now time.Time, p Policy, matches bool) (Outcome, int) {
	left := func() int { return max(p.MaxAttemptsPerCode-c.Failures, 0) }
	switch {
	case c.Used:
		return AlreadyUsed, left()
	case c.Failures >= p.MaxAttemptsPerCode:
		return Locked, 0
	case c.Sends == 0 || c.CodeHash == "" || !now.Before(c.ExpiresAt):
		return Expired, left()
	case matches:
		c.Used = true
		return OK, left()
	}
	c.Failures++
	if c.Failures >= p.MaxAttemptsPerCode {
		return Locked, 0
	}
	return Wrong, left()
}
