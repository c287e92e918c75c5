package declaration

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestPolicyFrom(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Policy
		wantErr string // the setting the error names
	}{
		{"defaults", nil, Policy{Confirmation: OptIn, ConfirmWithin: 72 * time.Hour, DenialSuspends: false}, ""},
		{"everyone, 1h, suspending", map[string]string{EnvConfirmation: "everyone", EnvConfirmWithin: "1h", EnvDenialSuspends: "true"},
			Policy{Confirmation: Everyone, ConfirmWithin: time.Hour, DenialSuspends: true}, ""},
		{"spaces trimmed", map[string]string{EnvConfirmation: " opt-in ", EnvDenialSuspends: " false"}, DefaultPolicy(), ""},
		{"unknown confirmation", map[string]string{EnvConfirmation: "all"}, Policy{}, EnvConfirmation},
		{"not a duration", map[string]string{EnvConfirmWithin: "3 days"}, Policy{}, EnvConfirmWithin},
		{"too short", map[string]string{EnvConfirmWithin: "30s"}, Policy{}, EnvConfirmWithin},
		{"too long", map[string]string{EnvConfirmWithin: "721h"}, Policy{}, EnvConfirmWithin},
		{"negative", map[string]string{EnvConfirmWithin: "-1h"}, Policy{}, EnvConfirmWithin},
		{"not a boolean", map[string]string{EnvDenialSuspends: "sometimes"}, Policy{}, EnvDenialSuspends},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PolicyFrom(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("PolicyFrom = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestNewWaitsOnlyWhenConfirmationIsNeeded(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	optIn, everyone := DefaultPolicy(), DefaultPolicy()
	everyone.Confirmation = Everyone
	tests := []struct {
		name        string
		p           Policy
		holderWants bool
		want        Status
	}{
		{"opt-in, holder off: accepted at once", optIn, false, Accepted},
		{"opt-in, holder on: pending", optIn, true, Pending},
		{"everyone, holder off: pending", everyone, false, Pending},
		{"everyone, holder on: pending", everyone, true, Pending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(tt.p, tt.holderWants, Declaration{ID: "d"}, now)
			if d.Status != tt.want || !d.FiledAt.Equal(now) {
				t.Fatalf("New = %+v", d)
			}
			if tt.want == Pending && (!d.ConfirmBy.Equal(now.Add(72*time.Hour)) || !d.DecidedAt.IsZero()) {
				t.Errorf("pending: confirmBy %v, decidedAt %v", d.ConfirmBy, d.DecidedAt)
			}
			if tt.want == Accepted && (!d.ConfirmBy.IsZero() || !d.DecidedAt.Equal(now)) {
				t.Errorf("accepted at once: confirmBy %v, decidedAt %v", d.ConfirmBy, d.DecidedAt)
			}
		})
	}
}

func TestExpiryIsReadAtOnce(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	d := New(DefaultPolicy(), true, Declaration{ID: "d"}, now)
	deadline := d.ConfirmBy
	for _, tt := range []struct {
		at   time.Time
		want Status
	}{
		{now, Pending},
		{deadline.Add(-time.Nanosecond), Pending},
		{deadline, Expired},
		{deadline.Add(time.Hour), Expired},
	} {
		if got := d.StatusAt(tt.at); got != tt.want {
			t.Errorf("StatusAt(%v) = %s, want %s", tt.at, got, tt.want)
		}
	}
	if a := d.AsOf(deadline); a.Status != Expired || !a.DecidedAt.Equal(deadline) {
		t.Errorf("AsOf the deadline = %s decided %v", a.Status, a.DecidedAt)
	}
	// Decided states never expire.
	for _, st := range []Status{Accepted, Denied} {
		x := d
		x.Status = st
		if got := x.StatusAt(deadline.Add(time.Hour)); got != st {
			t.Errorf("%s read after the deadline as %s", st, got)
		}
	}
}

func TestDecide(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	pending := New(DefaultPolicy(), true, Declaration{ID: "d"}, now)
	with := func(st Status) Declaration { d := pending; d.Status = st; return d }
	late := pending.ConfirmBy.Add(time.Second)
	tests := []struct {
		name       string
		d          Declaration
		a          Action
		at         time.Time
		wantReplay bool
		wantErr    error
	}{
		{"confirm pending", pending, Confirm, now, false, nil},
		{"deny pending", pending, Deny, now, false, nil},
		{"confirm accepted again", with(Accepted), Confirm, now, true, nil},
		{"deny denied again", with(Denied), Deny, now, true, nil},
		{"deny accepted", with(Accepted), Deny, now, false, ErrDecided},
		{"confirm denied", with(Denied), Confirm, now, false, ErrDecided},
		{"confirm after the deadline", pending, Confirm, late, false, ErrExpired},
		{"deny after the deadline", pending, Deny, late, false, ErrExpired},
		{"confirm at the deadline", pending, Confirm, pending.ConfirmBy, false, ErrExpired},
		{"confirm an accepted one after its deadline", with(Accepted), Confirm, late, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			replay, err := Decide(tt.d, tt.a, tt.at)
			if replay != tt.wantReplay || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Decide = %v, %v; want %v, %v", replay, err, tt.wantReplay, tt.wantErr)
			}
			if err != nil && apperr.Status(apperr.As(err).Code) != 409 {
				t.Errorf("refusal %v is not a 409", err)
			}
		})
	}
	if Confirm.Outcome() != Accepted || Deny.Outcome() != Denied {
		t.Error("outcomes")
	}
}

func TestStatuses(t *testing.T) {
	for _, s := range Statuses() {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	for _, s := range []Status{"", "PENDING", "lapsed"} {
		if s.Valid() {
			t.Errorf("%q valid", s)
		}
	}
}
