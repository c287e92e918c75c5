package identity_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/keyhash"
	"github.com/pccc/pccc/shared/limits"
	"github.com/pccc/pccc/shared/sealer"
	"github.com/pccc/pccc/shared/testkit"
)

var testNow = time.Date(2026, 12, 1, 9, 0, 0, 500_000_000, time.UTC)

// fakes: structs of function fields and a map, nothing more.

type bureauFunc func(name string, rrn identity.RRN) (bool, error)

func (f bureauFunc) Match(_ context.Context, name string, rrn identity.RRN) (bool, error) {
	return f(name, rrn)
}

// watchFunc hears spent numbers.
type watchFunc func(holderKey, day string) error

func (f watchFunc) NumberFailuresSpent(_ context.Context, holderKey, day string) error {
	return f(holderKey, day)
}

type mapStore map[string]identity.Verification

func (m mapStore) Put(_ context.Context, v identity.Verification) error { m[v.ID] = v; return nil }
func (m mapStore) Unmatched(context.Context, time.Time) error           { return nil }
func (m mapStore) Get(_ context.Context, id string) (identity.Verification, error) {
	v, ok := m[id]
	if !ok {
		return v, identity.ErrNoVerification
	}
	return v, nil
}

type env struct {
	svc         *identity.Service
	store       mapStore
	hasher      *keyhash.Hasher
	sealer      *sealer.Sealer
	clock       *testkit.Clock
	counters    *testkit.Counters
	bureauCalls []string // NameKeys the bureau was asked about
	bureauErr   error
	spent       []string // holder keys and days the watcher heard
	watchErr    error
}

func newEnv(t *testing.T, adjust ...func(*identity.Options)) *env {
	t.Helper()
	e := &env{store: mapStore{}, clock: testkit.NewClock(testNow)}
	e.counters = testkit.NewCounters(e.clock.Now)
	var err error
	e.hasher, err = keyhash.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	seal, err := sealer.New(map[string][]byte{"k1": bytes.Repeat([]byte{2}, 32)}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	e.sealer = seal
	known := map[string]string{"9001011234568": "HONGGILDONG", "8804125123456": "SMITHJOHN"}
	o := identity.Options{
		Bureau: bureauFunc(func(name string, rrn identity.RRN) (bool, error) {
			e.bureauCalls = append(e.bureauCalls, name)
			if e.bureauErr != nil {
				return false, e.bureauErr
			}
			return known[rrn.Digits()] == name, nil
		}),
		Store:   e.store,
		Limiter: e.counters,
		Watch: watchFunc(func(hk, day string) error {
			e.spent = append(e.spent, hk+" "+day)
			return e.watchErr
		}),
		Hasher: e.hasher, Sealer: seal,
		TTL: 10 * time.Minute, IPPerMinute: 30, PersonPerHour: 10, FailsPerAddress: 5, FailsPerDay: 20,
		Now: e.clock.Now,
	}
	for _, a := range adjust {
		a(&o)
	}
	e.svc, err = identity.NewService(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) start(name, rrn, ip string) (identity.Verification, error) {
	return e.svc.Start(context.Background(), identity.StartInput{Name: name, RRN: rrn, ClientIP: ip})
}

func TestNewServiceValidates(t *testing.T) {
	if _, err := identity.NewService(identity.Options{}); err == nil {
		t.Fatal("empty options accepted")
	}
}

func TestStartOpensAVerification(t *testing.T) {
	e := newEnv(t)
	v, err := e.svc.Start(context.Background(), identity.StartInput{Name: " smith   john ", RRN: "880412-5123456", ClientIP: "203.0.113.7"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(v.ID) {
		t.Fatalf("id %q is not 128 bits of base64url", v.ID)
	}
	if v.Step != identity.StepSMS || !v.CreatedAt.Equal(testNow) || !v.ExpiresAt.Equal(time.Date(2026, 12, 1, 9, 10, 0, 0, time.UTC)) {
		t.Fatalf("verification %+v", v)
	}
	if v.HolderKey != e.hasher.Sum(identity.PurposeHolder, "8804125123456") {
		t.Fatal("holder key is not the keyed hash of the digits")
	}
	if !reflect.DeepEqual(e.bureauCalls, []string{"SMITHJOHN"}) {
		t.Fatalf("bureau asked about %v", e.bureauCalls)
	}
	// Failures are taken before the bureau and given back on a match.
	wantCalls := []string{"hit address-rate", "take number-address-failures", "take number-failures", "give", "give", "hit person-verifications"}
	if !reflect.DeepEqual(e.counters.Calls, wantCalls) {
		t.Fatalf("counter calls %v, want %v", e.counters.Calls, wantCalls)
	}
	if n := e.counters.Count(limits.Bound{Key: "rrnfail:" + v.HolderKey, Window: limits.KoreanDay}); n != 0 {
		t.Fatalf("a match left %d failures counted", n)
	}
	if e.store[v.ID] != v {
		t.Fatal("not stored")
	}
	who, err := e.svc.OpenIdentity(v)
	if err != nil || who != (identity.Identity{Name: "SMITH JOHN", BirthDate: "19880412", Sex: "M", Foreigner: true}) {
		t.Fatalf("identity %v, %v", who, err)
	}
	// A sealed identity copied onto another verification does not open.
	moved := v
	moved.ID = "someone-else"
	if _, err := e.svc.OpenIdentity(moved); err == nil {
		t.Fatal("sealed identity opened under another id")
	}
}

func TestStartRefusals(t *testing.T) {
	tests := []struct {
		name        string
		in          identity.StartInput
		setup       func(e *env)
		wantCode    apperr.Code
		wantFields  []string
		wantAfter   time.Duration
		bureauCalls int
	}{
		{name: "bad name and number", in: identity.StartInput{Name: "1", RRN: "1"},
			wantCode: apperr.Invalid, wantFields: []string{"name", "rrn"}},
		{name: "bad number", in: identity.StartInput{Name: "HONG GILDONG", RRN: "901301-1234568"},
			wantCode: apperr.Invalid, wantFields: []string{"rrn"}},
		{name: "wrong name", in: identity.StartInput{Name: "HONG GILDONGG", RRN: "900101-1234568"},
			wantCode: apperr.VerificationFailed, bureauCalls: 1},
		{name: "counters overloaded keep their code", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup:    func(e *env) { e.counters.Fail = apperr.New(apperr.Overloaded, "busy").WithRetryAfter(2 * time.Second) },
			wantCode: apperr.Overloaded, wantAfter: 2 * time.Second},
		{name: "counters broken", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup:    func(e *env) { e.counters.Fail = errors.New("boom") },
			wantCode: apperr.Internal},
		{name: "bureau unavailable", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup:    func(e *env) { e.bureauErr = &identity.UnavailableError{RetryAfter: 9 * time.Second} },
			wantCode: apperr.Overloaded, wantAfter: 9 * time.Second, bureauCalls: 1},
		{name: "bureau unavailable without a hint", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup:    func(e *env) { e.bureauErr = &identity.UnavailableError{Err: errors.New("x")} },
			wantCode: apperr.Overloaded, wantAfter: 5 * time.Second, bureauCalls: 1},
		{name: "bureau broken", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup:    func(e *env) { e.bureauErr = errors.New("HTTP 400") },
			wantCode: apperr.Internal, bureauCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			_, err := e.svc.Start(context.Background(), tt.in)
			ae := apperr.As(err)
			if err == nil || ae.Code != tt.wantCode || ae.RetryAfter != tt.wantAfter {
				t.Fatalf("err = %v (retry %v), want %s (retry %v)", err, ae.RetryAfter, tt.wantCode, tt.wantAfter)
			}
			if len(ae.Fields) != len(tt.wantFields) {
				t.Fatalf("fields %v, want %v", ae.Fields, tt.wantFields)
			}
			for _, f := range tt.wantFields {
				if ae.Fields[f] == "" {
					t.Fatalf("fields %v lack %s", ae.Fields, f)
				}
			}
			if len(e.bureauCalls) != tt.bureauCalls {
				t.Fatalf("bureau calls %d", len(e.bureauCalls))
			}
			if len(e.store) != 0 {
				t.Fatal("a refused check stored a verification")
			}
		})
	}
}

func wantLimited(t *testing.T, err error, code apperr.Code, limit apperr.Limit, wait time.Duration) {
	t.Helper()
	ae := apperr.As(err)
	if ae.Code != code || ae.Limit != limit || ae.RetryAfter != wait {
		t.Fatalf("err = %v (limit %q, retry %v), want %s %s (retry %v)", err, ae.Limit, ae.RetryAfter, code, limit, wait)
	}
}

const hong, hongRRN = "HONG GILDONG", "900101-1234568"

// The client's own rate: a sliding minute, and the true wait.
func TestStartThrottlesTheAddress(t *testing.T) {
	e := newEnv(t, func(o *identity.Options) { o.IPPerMinute = 2 })
	for range 2 {
		if _, err := e.start(hong, hongRRN, "203.0.113.1"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.start(hong, hongRRN, "203.0.113.1")
	// testNow is 0.5 s into a minute and the refused one counts too: 3
	// in this slot, which the next minute's weighs down to 1 two thirds of
	// the way in (59.5 s + 40 s, rounded up).
	wantLimited(t, err, apperr.RateLimited, apperr.LimitAddressRate, 100*time.Second)
	if _, err := e.start(hong, hongRRN, "203.0.113.2"); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

// Ten wrong names from ten addresses leave the right name from an
// eleventh going; five from one address stop that address only.
func TestStartFailuresCountPerNumberAndAddress(t *testing.T) {
	e := newEnv(t)
	for i := range 10 {
		if _, err := e.start("KIM NOBODY", hongRRN, fmt.Sprintf("198.51.100.%d", i)); apperr.CodeOf(err) != apperr.VerificationFailed {
			t.Fatalf("wrong name %d: %v", i, err)
		}
	}
	if _, err := e.start(hong, hongRRN, "198.51.100.200"); err != nil {
		t.Fatalf("the right name from an eleventh address: %v", err)
	}
	for i := range 5 {
		if _, err := e.start("KIM NOBODY", hongRRN, "192.0.2.1"); apperr.CodeOf(err) != apperr.VerificationFailed {
			t.Fatalf("wrong name %d: %v", i, err)
		}
	}
	calls := len(e.bureauCalls)
	_, err := e.start(hong, hongRRN, "192.0.2.1")
	// Five in this hour's slot (refusals are not failures): room once the
	// next slot weighs them at 4, a fifth of the way in (59:59.5 + 12:00,
	// rounded up).
	wantLimited(t, err, apperr.TooManyAttempts, apperr.LimitNumberAddressFailure, time.Hour+12*time.Minute)
	if len(e.bureauCalls) != calls {
		t.Fatal("the bureau was asked past the bound")
	}
	if _, err := e.start(hong, hongRRN, "192.0.2.2"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	if len(e.spent) != 0 {
		t.Fatalf("the holder was told at %d failures: %v", 15, e.spent)
	}
}

// The loose bound: the failure that spends the number's day tells the
// holder, once; then the number rests until midnight in Seoul, whatever
// the name; and an unknown number takes the very same path.
func TestStartSpendsTheNumbersDay(t *testing.T) {
	for _, rrn := range []string{hongRRN, "010101-3000000"} {
		e := newEnv(t, func(o *identity.Options) { o.FailsPerDay, o.FailsPerAddress = 3, 2 })
		for i := range 3 {
			if _, err := e.start("KIM NOBODY", rrn, fmt.Sprintf("198.51.100.%d", i)); apperr.CodeOf(err) != apperr.VerificationFailed {
				t.Fatalf("wrong name %d: %v", i, err)
			}
		}
		hk := e.hasher.Sum(identity.PurposeHolder, strings.ReplaceAll(rrn, "-", ""))
		if !reflect.DeepEqual(e.spent, []string{hk + " 20261201"}) {
			t.Fatalf("watcher heard %v", e.spent)
		}
		// testNow is 18:00:00.5 in Seoul: six hours less half a second.
		for _, name := range []string{hong, "KIM NOBODY"} {
			_, err := e.start(name, rrn, "198.51.100.99")
			wantLimited(t, err, apperr.TooManyAttempts, apperr.LimitNumberFailures, 6*time.Hour)
		}
		e.clock.Advance(6 * time.Hour)
		_, err := e.start(hong, rrn, "198.51.100.99")
		if rrn == hongRRN && err != nil {
			t.Fatalf("after midnight in Seoul: %v", err)
		}
		if rrn != hongRRN && apperr.CodeOf(err) != apperr.VerificationFailed {
			t.Fatalf("unknown number after midnight: %v", err)
		}
	}
}

// A notice that cannot be queued gives the failure back, so the next one
// spends the day again and the notice is tried again.
func TestStartRetriesTheNoticeOnTheNextFailure(t *testing.T) {
	e := newEnv(t, func(o *identity.Options) { o.FailsPerDay, o.FailsPerAddress = 2, 2 })
	e.start("KIM NOBODY", hongRRN, "198.51.100.1")
	e.watchErr = errors.New("queue down")
	if _, err := e.start("KIM NOBODY", hongRRN, "198.51.100.2"); apperr.CodeOf(err) != apperr.Internal {
		t.Fatalf("notice failed: %v", err)
	}
	e.watchErr = nil
	if _, err := e.start("KIM NOBODY", hongRRN, "198.51.100.3"); apperr.CodeOf(err) != apperr.VerificationFailed {
		t.Fatalf("next failure: %v", err)
	}
	if len(e.spent) != 2 {
		t.Fatalf("watcher heard %v, want the retry", e.spent)
	}
}

// Opened verifications count on a match only: a wrong name for the same
// number still gets the 422, never the person's 429.
func TestStartBoundsVerificationsPerPerson(t *testing.T) {
	e := newEnv(t, func(o *identity.Options) { o.PersonPerHour = 1 })
	if _, err := e.start(hong, hongRRN, "198.51.100.1"); err != nil {
		t.Fatal(err)
	}
	_, err := e.start(hong, hongRRN, "198.51.100.2")
	if ae := apperr.As(err); ae.Code != apperr.RateLimited || ae.Limit != apperr.LimitPersonVerifications {
		t.Fatalf("second verification: %v", err)
	}
	if _, err := e.start("KIM NOBODY", hongRRN, "198.51.100.3"); apperr.CodeOf(err) != apperr.VerificationFailed {
		t.Fatalf("a wrong name was told about the person's verifications: %v", err)
	}
}

func TestWrongNameAndUnknownNumberGiveTheSameError(t *testing.T) {
	e := newEnv(t)
	_, wrongName := e.svc.Start(context.Background(), identity.StartInput{Name: "KIM NOBODY", RRN: "900101-1234568"})
	calls := len(e.counters.Calls)
	_, unknown := e.svc.Start(context.Background(), identity.StartInput{Name: "HONG GILDONG", RRN: "010101-3000000"})
	if !reflect.DeepEqual(wrongName, unknown) || apperr.CodeOf(wrongName) != apperr.VerificationFailed {
		t.Fatalf("errors differ: %#v vs %#v", wrongName, unknown)
	}
	if len(e.bureauCalls) != 2 || !reflect.DeepEqual(e.counters.Calls[:calls], e.counters.Calls[calls:]) {
		t.Fatalf("the two paths did different work: %v", e.counters.Calls)
	}
}

func TestGet(t *testing.T) {
	e := newEnv(t)
	v, err := e.svc.Start(context.Background(), identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e.svc.Get(context.Background(), v.ID); err != nil || got != v {
		t.Fatalf("Get = %v, %v", got, err)
	}
	if _, err := e.svc.Get(context.Background(), "missing"); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("missing: %v", err)
	}
	// A store that returns an expired verification (TTL has not run yet)
	// does not make it live again.
	expired := v
	expired.ExpiresAt = testNow
	e.store[v.ID] = expired
	if _, err := e.svc.Get(context.Background(), v.ID); apperr.CodeOf(err) != apperr.NotFound {
		t.Fatalf("expired: %v", err)
	}
}

func TestNewIDIsUnique(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, err := identity.NewID()
		if err != nil || seen[id] || len(id) != 22 {
			t.Fatalf("id %q, %v", id, err)
		}
		seen[id] = true
	}
}
