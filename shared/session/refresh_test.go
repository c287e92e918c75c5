package session

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestRefreshExtendsUpToTheCap(t *testing.T) {
	c := &clock{t0}
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", c)
	if err := iss.SetMaxAge(40 * time.Minute); err != nil {
		t.Fatal(err)
	}
	tok, exp, err := iss.Issue(holderA, verID)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(t0.Add(DefaultTTL)) {
		t.Fatalf("first expiry %s", exp)
	}
	// Ten minutes in: a full fresh TTL, same holder and verification,
	// a new token id, the verification time kept.
	c.t = t0.Add(10 * time.Minute)
	old, err := iss.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	tok2, exp2, err := iss.Refresh(old)
	if err != nil {
		t.Fatal(err)
	}
	if !exp2.Equal(c.t.Add(DefaultTTL)) {
		t.Fatalf("refreshed expiry %s, want %s", exp2, c.t.Add(DefaultTTL))
	}
	got, err := iss.Verify(tok2)
	if err != nil {
		t.Fatal(err)
	}
	if got.HolderKey != holderA || got.VerificationID != verID || got.TokenID == old.TokenID ||
		!got.AuthTime.Equal(t0) || !got.ExpiresAt.Equal(exp2) {
		t.Fatalf("refreshed claims %+v (old %+v)", got, old)
	}
	// Thirty minutes in: capped at 40 minutes after the verification.
	c.t = t0.Add(30 * time.Minute)
	tok3, exp3, err := iss.Refresh(got)
	if err != nil {
		t.Fatal(err)
	}
	if !exp3.Equal(t0.Add(40 * time.Minute)) {
		t.Fatalf("capped expiry %s", exp3)
	}
	// At the cap: nothing more, the same 401 as an expired token.
	c.t = t0.Add(40 * time.Minute)
	last, err := iss.Verify(tok3)
	if err != nil {
		t.Fatal(err) // within leeway
	}
	_, _, err = iss.Refresh(last)
	assertUnauthenticated(t, err, tok3)
	c.t = t0.Add(41 * time.Minute)
	_, err = iss.Verify(tok3)
	assertUnauthenticated(t, err, tok3)
}

func TestRefreshOfTokenWithoutAuthTimeCountsFromIssue(t *testing.T) {
	c := &clock{t0.Add(5 * time.Minute)}
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", c)
	legacy := goodClaims() // no auth_time
	if legacy.AuthTime != nil {
		t.Fatal("goodClaims carries auth_time")
	}
	cl, err := iss.Verify(sign(t, jwt.SigningMethodHS256, "k1", key1, legacy))
	if err != nil {
		t.Fatal(err)
	}
	if !cl.AuthTime.Equal(cl.IssuedAt) {
		t.Fatalf("auth time %s, issued %s", cl.AuthTime, cl.IssuedAt)
	}
	c.t = cl.IssuedAt.Add(DefaultMaxAge - time.Minute)
	_, exp, err := iss.Refresh(cl)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(cl.IssuedAt.Add(DefaultMaxAge)) {
		t.Fatalf("expiry %s", exp)
	}
}

func TestVerifyRefusesAuthTimeAfterIssue(t *testing.T) {
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", &clock{t0})
	bad := goodClaims()
	bad.AuthTime = jwt.NewNumericDate(bad.IssuedAt.Add(time.Minute))
	_, err := iss.Verify(sign(t, jwt.SigningMethodHS256, "k1", key1, bad))
	assertUnauthenticated(t, err, "")
}

func TestSetMaxAgeBounds(t *testing.T) {
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", &clock{t0})
	if iss.MaxAge() != DefaultMaxAge {
		t.Fatalf("default max age %s", iss.MaxAge())
	}
	for _, d := range []time.Duration{DefaultTTL - time.Second, MaxMaxAge + time.Second, -time.Hour} {
		if err := iss.SetMaxAge(d); err == nil {
			t.Errorf("SetMaxAge(%s) accepted", d)
		}
	}
	if err := iss.SetMaxAge(DefaultTTL); err != nil || iss.MaxAge() != DefaultTTL {
		t.Fatalf("SetMaxAge(ttl): %v %s", err, iss.MaxAge())
	}
}
