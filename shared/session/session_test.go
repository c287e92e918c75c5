package session

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pccc/pccc/shared/apperr"
)

var (
	key1 = bytes.Repeat([]byte{0x11}, 32)
	key2 = bytes.Repeat([]byte{0x22}, 32)
	keyX = bytes.Repeat([]byte{0x99}, 32)
	t0   = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
)

const (
	holderA = "hk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	holderB = "hk_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	verID   = "ver_01"
)

// clock is a settable fake clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newIssuer(t *testing.T, keys map[string][]byte, active string, c *clock) *Issuer {
	t.Helper()
	iss, err := New(keys, active, 0, c.now)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return iss
}

// sign mints a token with arbitrary claims and header, to forge what a
// careless or hostile issuer might produce.
func sign(t *testing.T, method jwt.SigningMethod, kid string, key any, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return s
}

func goodClaims() tokenClaims {
	return tokenClaims{
		VerificationID: verID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: IssuerName, Subject: holderA, Audience: jwt.ClaimStrings{Audience},
			IssuedAt: jwt.NewNumericDate(t0), ExpiresAt: jwt.NewNumericDate(t0.Add(DefaultTTL)),
			ID: "jti-1",
		},
	}
}

// replacePayload swaps the payload segment, keeping the original signature.
func replacePayload(t *testing.T, token string, edit func(m map[string]any)) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(out)
	return strings.Join(parts, ".")
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		keys   map[string][]byte
		active string
		ttl    time.Duration
	}{
		{"no keys", nil, "k1", 0},
		{"short key", map[string][]byte{"k1": make([]byte, 31)}, "k1", 0},
		{"active missing", map[string][]byte{"k1": key1}, "k2", 0},
		{"empty kid", map[string][]byte{"": key1}, "", 0},
		{"kid with space", map[string][]byte{"k 1": key1}, "k 1", 0},
		{"negative ttl", map[string][]byte{"k1": key1}, "k1", -time.Minute},
		{"ttl too long", map[string][]byte{"k1": key1}, "k1", 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.keys, tt.active, tt.ttl, nil); err == nil {
				t.Fatal("New accepted bad config")
			}
		})
	}
}

func TestNewDefaultsAndCopiesKeys(t *testing.T) {
	k := append([]byte(nil), key1...)
	c := &clock{t0}
	iss, err := New(map[string][]byte{"k1": k}, "k1", 0, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if iss.TTL() != DefaultTTL {
		t.Fatalf("TTL = %s, want %s", iss.TTL(), DefaultTTL)
	}
	tok, _, err := iss.Issue(holderA, verID)
	if err != nil {
		t.Fatal(err)
	}
	// Wiping the caller's slice must not change the ring.
	for i := range k {
		k[i] = 0
	}
	if _, err := iss.Verify(tok); err != nil {
		t.Fatalf("Verify after caller wiped key: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	c := &clock{t0.Add(1500 * time.Millisecond)}
	iss, err := New(map[string][]byte{"k1": key1}, "k1", 10*time.Minute, c.now)
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := iss.Issue(holderA, verID)
	if err != nil {
		t.Fatal(err)
	}
	wantIat := t0.Add(time.Second) // truncated to whole seconds
	if !exp.Equal(wantIat.Add(10 * time.Minute)) {
		t.Fatalf("expiresAt = %s", exp)
	}
	got, err := iss.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.HolderKey != holderA || got.VerificationID != verID {
		t.Fatalf("claims = %+v", got)
	}
	if !got.IssuedAt.Equal(wantIat) || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("times = %s %s", got.IssuedAt, got.ExpiresAt)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(got.TokenID)
	if len(raw) != 16 {
		t.Fatalf("token id %q is not 128 bits", got.TokenID)
	}
	// The header names the algorithm and key; nothing else identifies.
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	var h map[string]any
	if err := json.Unmarshal(hdr, &h); err != nil || h["alg"] != "HS256" || h["kid"] != "k1" {
		t.Fatalf("header = %s", hdr)
	}
}

func TestTokenIDsAreUnique(t *testing.T) {
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", &clock{t0})
	seen := map[string]bool{}
	for range 200 {
		tok, _, err := iss.Issue(holderA, verID)
		if err != nil {
			t.Fatal(err)
		}
		c, err := iss.Verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.TokenID] {
			t.Fatalf("duplicate token id %q", c.TokenID)
		}
		seen[c.TokenID] = true
	}
}

func TestIssueRejectsBadInput(t *testing.T) {
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", &clock{t0})
	tests := []struct{ name, holder, ver string }{
		{"empty holder", "", verID},
		{"empty verification", holderA, ""},
		{"holder too long", strings.Repeat("h", 257), verID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := iss.Issue(tt.holder, tt.ver); err == nil {
				t.Fatal("Issue accepted bad input")
			}
		})
	}
}

func TestExpiry(t *testing.T) {
	c := &clock{t0}
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", c)
	tok, _, err := iss.Issue(holderA, verID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		at    time.Time
		valid bool
	}{
		{"fresh", t0, true},
		{"just before expiry", t0.Add(DefaultTTL - time.Second), true},
		{"within leeway", t0.Add(DefaultTTL + Leeway - time.Second), true},
		{"past leeway", t0.Add(DefaultTTL + Leeway + time.Second), false},
		{"long expired", t0.Add(24 * time.Hour), false},
		{"issued in the future", t0.Add(-time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = tt.at
			_, err := iss.Verify(tok)
			if tt.valid && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tt.valid {
				assertUnauthenticated(t, err, tok)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	c := &clock{t0}
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", c)
	good, _, err := iss.Issue(holderA, verID)
	if err != nil {
		t.Fatal(err)
	}
	other := newIssuer(t, map[string][]byte{"k1": keyX}, "k1", c)
	forged, _, err := other.Issue(holderA, verID)
	if err != nil {
		t.Fatal(err)
	}
	withClaims := func(edit func(*tokenClaims)) string {
		cl := goodClaims()
		edit(&cl)
		return sign(t, jwt.SigningMethodHS256, "k1", key1, cl)
	}
	parts := strings.Split(good, ".")

	tests := []struct{ name, token string }{
		{"empty", ""},
		{"garbage", "not-a-token"},
		{"two segments", parts[0] + "." + parts[1]},
		{"oversized", strings.Repeat("a", maxTokenLen+1)},
		{"forged with another key", forged},
		{"subject swapped to another holder", replacePayload(t, good, func(m map[string]any) { m["sub"] = holderB })},
		{"expiry extended", replacePayload(t, good, func(m map[string]any) { m["exp"] = float64(t0.Add(time.Hour).Unix()) })},
		{"signature stripped", parts[0] + "." + parts[1] + "."},
		{"alg none", sign(t, jwt.SigningMethodNone, "k1", jwt.UnsafeAllowNoneSignatureType, goodClaims())},
		{"alg HS512 with the right key", sign(t, jwt.SigningMethodHS512, "k1", key1, goodClaims())},
		{"wrong audience", withClaims(func(c *tokenClaims) { c.Audience = jwt.ClaimStrings{"pccc-broker"} })},
		{"no audience", withClaims(func(c *tokenClaims) { c.Audience = nil })},
		{"wrong issuer", withClaims(func(c *tokenClaims) { c.Issuer = "someone-else" })},
		{"no expiry", withClaims(func(c *tokenClaims) { c.ExpiresAt = nil })},
		{"no issued-at", withClaims(func(c *tokenClaims) { c.IssuedAt = nil })},
		{"no subject", withClaims(func(c *tokenClaims) { c.Subject = "" })},
		{"no token id", withClaims(func(c *tokenClaims) { c.ID = "" })},
		{"no verification id", withClaims(func(c *tokenClaims) { c.VerificationID = "" })},
		{"unknown kid", sign(t, jwt.SigningMethodHS256, "k9", key1, goodClaims())},
		{"no kid", sign(t, jwt.SigningMethodHS256, "", key1, goodClaims())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := iss.Verify(tt.token)
			assertUnauthenticated(t, err, tt.token)
			if got != (Claims{}) {
				t.Fatalf("claims leaked on failure: %+v", got)
			}
		})
	}
}

// TestSignedGoodClaimsVerify guards TestVerifyRejects: the helper-built
// baseline must pass, so each failing case fails for its one change.
func TestSignedGoodClaimsVerify(t *testing.T) {
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", &clock{t0})
	c, err := iss.Verify(sign(t, jwt.SigningMethodHS256, "k1", key1, goodClaims()))
	if err != nil || c.HolderKey != holderA {
		t.Fatalf("baseline: %+v %v", c, err)
	}
}

func TestHolderIsBoundToToken(t *testing.T) {
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", &clock{t0})
	tokA, _, _ := iss.Issue(holderA, verID)
	tokB, _, _ := iss.Issue(holderB, verID)
	for _, tt := range []struct{ token, want string }{{tokA, holderA}, {tokB, holderB}} {
		c, err := iss.Verify(tt.token)
		if err != nil {
			t.Fatal(err)
		}
		if c.HolderKey != tt.want {
			t.Fatalf("holder = %q, want %q", c.HolderKey, tt.want)
		}
	}
	// Grafting A's payload onto B's signature (or the reverse) fails.
	pa, pb := strings.Split(tokA, "."), strings.Split(tokB, ".")
	for _, mixed := range []string{
		pa[0] + "." + pb[1] + "." + pa[2],
		pb[0] + "." + pa[1] + "." + pb[2],
	} {
		_, err := iss.Verify(mixed)
		assertUnauthenticated(t, err, mixed)
	}
}

func TestKeyRotation(t *testing.T) {
	c := &clock{t0}
	before := newIssuer(t, map[string][]byte{"k1": key1}, "k1", c)
	during := newIssuer(t, map[string][]byte{"k1": key1, "k2": key2}, "k2", c)
	after := newIssuer(t, map[string][]byte{"k2": key2}, "k2", c)

	oldTok, _, err := before.Issue(holderA, verID)
	if err != nil {
		t.Fatal(err)
	}
	newTok, _, err := during.Issue(holderA, verID)
	if err != nil {
		t.Fatal(err)
	}
	if kid := headerKID(t, newTok); kid != "k2" {
		t.Fatalf("new token kid = %q, want k2", kid)
	}
	tests := []struct {
		name  string
		iss   *Issuer
		token string
		valid bool
	}{
		{"old token, old key still in ring", during, oldTok, true},
		{"new token, ring during rotation", during, newTok, true},
		{"new token, ring after rotation", after, newTok, true},
		{"old token, old key retired", after, oldTok, false},
		{"new token, ring before rotation", before, newTok, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.iss.Verify(tt.token)
			if tt.valid && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tt.valid {
				assertUnauthenticated(t, err, tt.token)
			}
		})
	}
}

// A token whose kid names one key but is signed with another ring key must
// fail: the kid picks the key, it is not a hint to try them all.
func TestKIDMismatchFails(t *testing.T) {
	iss := newIssuer(t, map[string][]byte{"k1": key1, "k2": key2}, "k2", &clock{t0})
	tok := sign(t, jwt.SigningMethodHS256, "k2", key1, goodClaims())
	_, err := iss.Verify(tok)
	assertUnauthenticated(t, err, tok)
}

func headerKID(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.KID
}

// assertUnauthenticated checks err is the one safe 401 and that neither its
// client message nor its logged text carries the token.
func assertUnauthenticated(t *testing.T, err error, token string) {
	t.Helper()
	if err == nil {
		t.Fatal("accepted a bad token")
	}
	var e *apperr.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *apperr.Error", err)
	}
	if e.Code != apperr.Unauthenticated || e.Message != Message {
		t.Fatalf("error = %s / %q", e.Code, e.Message)
	}
	if len(token) > 8 && strings.Contains(err.Error(), token) {
		t.Fatal("error text echoes the token")
	}
}

// The headers Verify keeps are those of tokens whose signature held: a
// stranger's tokens with headers of every kind keep none and cannot push
// ours out, and a kept header answers as reading it anew would.
func TestVerifyKeepsOnlyGoodTokensHeaders(t *testing.T) {
	iss := newIssuer(t, map[string][]byte{"k1": key1, "k2": key2}, "k1", &clock{t0})
	kept := func() int {
		if h := iss.heads.Load(); h != nil {
			return len(*h)
		}
		return 0
	}
	for i := range 2 * maxKnownHeads {
		// Our algorithm, a key id of the ring or not, a key not ours.
		kid := []string{"k1", "k2", "k" + strconv.Itoa(i+3)}[i%3]
		bad := sign(t, jwt.SigningMethodHS256, kid, []byte(strings.Repeat("x", 32)+strconv.Itoa(i)), goodClaims())
		assertUnauthenticated(t, func() error { _, err := iss.Verify(bad); return err }(), bad)
	}
	if n := kept(); n != 0 {
		t.Fatalf("%d headers kept from tokens that did not verify", n)
	}
	good := sign(t, jwt.SigningMethodHS256, "k2", key2, goodClaims())
	for range 3 {
		if _, err := iss.Verify(good); err != nil {
			t.Fatalf("good token: %v", err)
		}
	}
	if n := kept(); n != 1 {
		t.Fatalf("%d headers kept after one good token three times, want 1", n)
	}
	// The kept header names k2; a token with that header signed with k1's
	// key still fails, as does one whose signature is cut short.
	forged := sign(t, jwt.SigningMethodHS256, "k2", key1, goodClaims())
	assertUnauthenticated(t, func() error { _, err := iss.Verify(forged); return err }(), forged)
	short := good[:len(good)-4]
	assertUnauthenticated(t, func() error { _, err := iss.Verify(short); return err }(), short)
}

// A ring fetched again (rotation) checks signatures with its own keys,
// even under a key id the old ring had with another key.
func TestRefreshedRingChecksWithItsOwnKeys(t *testing.T) {
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", &clock{t0})
	old := sign(t, jwt.SigningMethodHS256, "k1", key1, goodClaims())
	if _, err := iss.Verify(old); err != nil {
		t.Fatal(err)
	}
	iss.SetRefresh(func() (map[string][]byte, string, bool) {
		return map[string][]byte{"k1": key2, "k3": key2}, "k3", true
	})
	// k3 is unknown: the ring is fetched again, k1 now holds key2.
	if _, err := iss.Verify(sign(t, jwt.SigningMethodHS256, "k3", key2, goodClaims())); err != nil {
		t.Fatalf("a token of the new key: %v", err)
	}
	assertUnauthenticated(t, func() error { _, err := iss.Verify(old); return err }(), old)
	if _, err := iss.Verify(sign(t, jwt.SigningMethodHS256, "k1", key2, goodClaims())); err != nil {
		t.Fatalf("k1 under its new key: %v", err)
	}
}
