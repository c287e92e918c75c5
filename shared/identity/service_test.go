package identity_test

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"regexp"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/keyhash"
	"github.com/pccc/pccc/shared/sealer"
)

var testNow = time.Date(2026, 12, 1, 9, 0, 0, 500_000_000, time.UTC)

// fakes: structs of function fields and a map, nothing more.

type bureauFunc func(name string, rrn identity.RRN) (bool, error)

func (f bureauFunc) Match(_ context.Context, name string, rrn identity.RRN) (bool, error) {
	return f(name, rrn)
}

type limiterFunc func(key string, limit int, window time.Duration) (bool, time.Duration, error)

func (f limiterFunc) Allow(_ context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	return f(key, limit, window)
}

type mapStore map[string]identity.Verification

func (m mapStore) Put(_ context.Context, v identity.Verification) error { m[v.ID] = v; return nil }
func (m mapStore) Get(_ context.Context, id string) (identity.Verification, error) {
	v, ok := m[id]
	if !ok {
		return v, identity.ErrNoVerification
	}
	return v, nil
}

type env struct {
	svc          *identity.Service
	store        mapStore
	hasher       *keyhash.Hasher
	bureauCalls  []string // NameKeys the bureau was asked about
	limiterCalls []string
	bureauErr    error
	limit        func(key string) (bool, time.Duration, error)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{store: mapStore{}}
	var err error
	e.hasher, err = keyhash.New(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	seal, err := sealer.New(map[string][]byte{"k1": bytes.Repeat([]byte{2}, 32)}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{"9001011234568": "HONGGILDONG", "8804125123456": "SMITHJOHN"}
	e.svc, err = identity.NewService(identity.Options{
		Bureau: bureauFunc(func(name string, rrn identity.RRN) (bool, error) {
			e.bureauCalls = append(e.bureauCalls, name)
			if e.bureauErr != nil {
				return false, e.bureauErr
			}
			return known[rrn.Digits()] == name, nil
		}),
		Store: e.store,
		Limiter: limiterFunc(func(key string, limit int, window time.Duration) (bool, time.Duration, error) {
			e.limiterCalls = append(e.limiterCalls, key)
			if e.limit != nil {
				return e.limit(key)
			}
			return true, 0, nil
		}),
		Hasher: e.hasher, Sealer: seal,
		TTL: 10 * time.Minute, IPPerMinute: 30, PersonPerHour: 10,
		Now: func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
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
	wantKeys := []string{"ip:" + e.hasher.Sum(identity.PurposeClientIP, "203.0.113.7"), "person:" + v.HolderKey}
	if !reflect.DeepEqual(e.limiterCalls, wantKeys) {
		t.Fatalf("limiter keys %v, want %v", e.limiterCalls, wantKeys)
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
		name         string
		in           identity.StartInput
		setup        func(e *env)
		wantCode     apperr.Code
		wantFields   []string
		wantAfter    time.Duration
		bureauCalls  int
		limiterCalls int
	}{
		{name: "bad name and number", in: identity.StartInput{Name: "1", RRN: "1"},
			wantCode: apperr.Invalid, wantFields: []string{"name", "rrn"}},
		{name: "bad number", in: identity.StartInput{Name: "HONG GILDONG", RRN: "901301-1234568"},
			wantCode: apperr.Invalid, wantFields: []string{"rrn"}},
		{name: "wrong name", in: identity.StartInput{Name: "HONG GILDONGG", RRN: "900101-1234568"},
			wantCode: apperr.VerificationFailed, bureauCalls: 1, limiterCalls: 2},
		{name: "throttled per IP", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup: func(e *env) {
				e.limit = func(string) (bool, time.Duration, error) { return false, 20 * time.Second, nil }
			},
			wantCode: apperr.RateLimited, wantAfter: 20 * time.Second, limiterCalls: 1},
		{name: "throttled per person, tiny wait rounds up", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup: func(e *env) {
				e.limit = func(k string) (bool, time.Duration, error) { return k[:3] == "ip:", time.Millisecond, nil }
			},
			wantCode: apperr.RateLimited, wantAfter: time.Second, limiterCalls: 2},
		{name: "limiter overloaded keeps its code", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup: func(e *env) {
				e.limit = func(string) (bool, time.Duration, error) {
					return false, 0, apperr.New(apperr.Overloaded, "busy").WithRetryAfter(2 * time.Second)
				}
			},
			wantCode: apperr.Overloaded, wantAfter: 2 * time.Second, limiterCalls: 1},
		{name: "limiter broken", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup: func(e *env) {
				e.limit = func(string) (bool, time.Duration, error) { return false, 0, errors.New("boom") }
			},
			wantCode: apperr.Internal, limiterCalls: 1},
		{name: "bureau unavailable", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup:    func(e *env) { e.bureauErr = &identity.UnavailableError{RetryAfter: 9 * time.Second} },
			wantCode: apperr.Overloaded, wantAfter: 9 * time.Second, bureauCalls: 1, limiterCalls: 2},
		{name: "bureau unavailable without a hint", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup:    func(e *env) { e.bureauErr = &identity.UnavailableError{Err: errors.New("x")} },
			wantCode: apperr.Overloaded, wantAfter: 5 * time.Second, bureauCalls: 1, limiterCalls: 2},
		{name: "bureau broken", in: identity.StartInput{Name: "HONG GILDONG", RRN: "900101-1234568"},
			setup:    func(e *env) { e.bureauErr = errors.New("HTTP 400") },
			wantCode: apperr.Internal, bureauCalls: 1, limiterCalls: 2},
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
			if len(e.bureauCalls) != tt.bureauCalls || len(e.limiterCalls) != tt.limiterCalls {
				t.Fatalf("bureau calls %d, limiter calls %d", len(e.bureauCalls), len(e.limiterCalls))
			}
			if len(e.store) != 0 {
				t.Fatal("a refused check stored a verification")
			}
		})
	}
}

func TestWrongNameAndUnknownNumberGiveTheSameError(t *testing.T) {
	e := newEnv(t)
	_, wrongName := e.svc.Start(context.Background(), identity.StartInput{Name: "KIM NOBODY", RRN: "900101-1234568"})
	_, unknown := e.svc.Start(context.Background(), identity.StartInput{Name: "HONG GILDONG", RRN: "010101-3000000"})
	if !reflect.DeepEqual(wrongName, unknown) || apperr.CodeOf(wrongName) != apperr.VerificationFailed {
		t.Fatalf("errors differ: %#v vs %#v", wrongName, unknown)
	}
	if len(e.bureauCalls) != 2 || len(e.limiterCalls) != 4 {
		t.Fatal("the two paths did different work")
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
