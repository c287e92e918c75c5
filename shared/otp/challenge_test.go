package otp

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

func sent(failures int) Challenge {
	var c Challenge
	c.Send(t0, DefaultPolicy(), "hash")
	c.Failures = failures
	return c
}

func TestCheck(t *testing.T) {
	p := DefaultPolicy()
	used := sent(0)
	used.Used = true
	tests := []struct {
		name     string
		c        Challenge
		at       time.Time
		matches  bool
		want     Outcome
		left     int
		failures int // after
		used     bool
	}{
		{"right code", sent(0), t0.Add(time.Minute), true, OK, 5, 0, true},
		{"right code after failures", sent(3), t0.Add(time.Minute), true, OK, 2, 3, true},
		{"wrong code", sent(0), t0.Add(time.Minute), false, Wrong, 4, 1, false},
		{"last wrong code locks", sent(4), t0.Add(time.Minute), false, Locked, 0, 5, false},
		{"locked refuses the right code", sent(5), t0.Add(time.Minute), true, Locked, 0, 5, false},
		{"expired at ExpiresAt", sent(0), t0.Add(p.CodeTTL), true, Expired, 5, 0, false},
		{"expired wrong code costs nothing", sent(1), t0.Add(time.Hour), false, Expired, 4, 1, false},
		{"used once", used, t0.Add(time.Minute), true, AlreadyUsed, 5, 0, true},
		{"nothing sent", Challenge{}, t0, true, Expired, 5, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			got, left := c.Check(tt.at, p, tt.matches)
			if got != tt.want || left != tt.left || c.Failures != tt.failures || c.Used != tt.used {
				t.Fatalf("Check = %s, %d (failures %d, used %v); want %s, %d (%d, %v)",
					got, left, c.Failures, c.Used, tt.want, tt.left, tt.failures, tt.used)
			}
		})
	}
}

func TestCanResend(t *testing.T) {
	p := DefaultPolicy()
	used := sent(0)
	used.Used = true
	many := sent(0)
	many.Sends = p.MaxSendsPerVerification
	tests := []struct {
		name  string
		c     Challenge
		at    time.Time
		ok    bool
		after time.Duration
	}{
		{"first send", Challenge{}, t0, true, 0},
		{"inside cooldown", sent(0), t0.Add(20 * time.Second), false, 40 * time.Second},
		{"cooldown over", sent(0), t0.Add(p.ResendCooldown), true, 0},
		{"after failures", sent(2), t0.Add(2 * time.Minute), true, 0},
		{"locked", sent(5), t0.Add(time.Hour), false, 0},
		{"used", used, t0.Add(time.Hour), false, 0},
		{"out of sends", many, t0.Add(time.Hour), false, 0},
	}
	for _, tt := range tests {
		ok, after := tt.c.CanResend(tt.at, p)
		if ok != tt.ok || after != tt.after {
			t.Errorf("%s: CanResend = %v, %v; want %v, %v", tt.name, ok, after, tt.ok, tt.after)
		}
	}
}

// A guesser who resends after every few wrong codes still gets only
// MaxAttemptsPerCode tries in all.
func TestResendNeverRefillsTheFailureBudget(t *testing.T) {
	p := DefaultPolicy()
	var c Challenge
	now := t0
	wrong := 0
	for round := 0; round < 10; round++ {
		ok, wait := c.CanResend(now, p)
		if !ok {
			if wait == 0 {
				break
			}
			now = now.Add(wait)
			continue
		}
		c.Send(now, p, "hash")
		for range 2 {
			before := c.Failures
			c.Check(now, p, false)
			wrong += c.Failures - before
		}
		now = now.Add(p.ResendCooldown)
	}
	if wrong != p.MaxAttemptsPerCode || c.Failures != p.MaxAttemptsPerCode {
		t.Fatalf("%d wrong guesses counted (failures %d); want %d", wrong, c.Failures, p.MaxAttemptsPerCode)
	}
	if out, left := c.Check(now, p, true); out != Locked || left != 0 {
		t.Fatalf("after the budget, right code gives %s, %d", out, left)
	}
}

func TestSendReplacesTheCode(t *testing.T) {
	p := DefaultPolicy()
	c := sent(2)
	c.Send(t0.Add(time.Minute), p, "new")
	if c.CodeHash != "new" || c.Sends != 2 || c.Failures != 2 || !c.ExpiresAt.Equal(t0.Add(time.Minute+p.CodeTTL)) {
		t.Fatalf("after resend: %+v", c)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{OK: "ok", Wrong: "wrong", Locked: "locked", Expired: "expired", AlreadyUsed: "already_used", 0: "unknown"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q", o, o.String())
		}
	}
}
