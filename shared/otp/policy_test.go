package otp

import (
	"testing"
	"time"
)

func TestPolicyValidate(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	d := DefaultPolicy()
	if d.CodeTTL != 3*time.Minute || d.MaxAttemptsPerCode != 5 || d.ResendCooldown != time.Minute {
		t.Fatalf("defaults changed: %+v", d)
	}
	tests := []struct {
		name   string
		change func(*Policy)
		ok     bool
	}{
		{"ten minutes is the ceiling", func(p *Policy) { p.CodeTTL = 10 * time.Minute }, true},
		{"over ten minutes", func(p *Policy) { p.CodeTTL = 10*time.Minute + time.Second }, false},
		{"zero ttl", func(p *Policy) { p.CodeTTL = 0 }, false},
		{"no attempts", func(p *Policy) { p.MaxAttemptsPerCode = 0 }, false},
		{"too many attempts", func(p *Policy) { p.MaxAttemptsPerCode = 11 }, false},
		{"person lock below code budget", func(p *Policy) { p.PersonLockAfter = 4 }, false},
		{"person lock at NIST ceiling", func(p *Policy) { p.PersonLockAfter = 100 }, false},
		{"no phone failures", func(p *Policy) { p.MaxPhoneFailures = 0 }, false},
		{"person phone bound below the verification's", func(p *Policy) { p.PhoneFailuresPerDay = 2 }, false},
		{"person phone bound at the verification's", func(p *Policy) { p.PhoneFailuresPerDay = 3 }, true},
		{"person phone bound at NIST ceiling", func(p *Policy) { p.PhoneFailuresPerDay = 100 }, false},
		{"no phone failures per address", func(p *Policy) { p.PhoneFailuresPerAddress = 0 }, false},
		{"no cooldown", func(p *Policy) { p.ResendCooldown = 0 }, false},
		{"cooldown past ttl", func(p *Policy) { p.ResendCooldown = 4 * time.Minute }, false},
		{"no sends per verification", func(p *Policy) { p.MaxSendsPerVerification = 0 }, false},
		{"no sends per phone", func(p *Policy) { p.MaxSendsPerPhonePerDay = 0 }, false},
	}
	for _, tt := range tests {
		p := DefaultPolicy()
		tt.change(&p)
		if err := p.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate = %v", tt.name, err)
		}
	}
}
