// Package session issues and checks the holder session token: the short-lived
// bearer token a person receives after confirming the one-time code (API.md,
// "Identity verification" step 3) and presents as `Authorization: Bearer` on
// every holder call.
//
// The token is a JWT signed with HS256 under a key ring, so keys can be
// rotated without logging everybody out: the `kid` header names the key, new
// tokens use the active key, and tokens signed with an older key that is
// still in the ring keep verifying until they expire. Its subject is the
// holder key (a keyed hash, see shared/keyhash), never personal data, so a
// token read off a wire or a log reveals nobody.
//
// Every way a token can be bad yields the same UNAUTHENTICATED error with one
// message that never echoes the token, so a caller learns nothing from which
// check failed.
package session

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/golang-jwt/jwt/v5"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/jsonfold"
)

const (
	// Audience and IssuerName are pinned so a token minted for another
	// purpose (or by another service sharing a key by mistake) is refused.
	Audience   = "pccc-holder"
	IssuerName = "pccc"

	// DefaultTTL is the session lifetime when none is configured: long
	// enough to finish an application, short enough that a leaked token
	// is soon worthless.
	DefaultTTL = 15 * time.Minute
	// MaxTTL bounds configuration mistakes; a holder session is never
	// meant to be long-lived.
	MaxTTL = time.Hour
	// MinKeyBytes is the HS256 key floor (RFC 7518 §3.2: at least the hash
	// size).
	MinKeyBytes = 32
	// DefaultMaxAge is the absolute cap on a session counted from the
	// verification that opened it: refreshing never carries a token past
	// it, so a stolen token cannot be kept alive for ever.
	DefaultMaxAge = time.Hour
	// MaxMaxAge bounds configuration mistakes on that cap.
	MaxMaxAge = 12 * time.Hour
	// Leeway tolerates small clock skew between Lambda hosts.
	Leeway = 5 * time.Second

	// maxTokenLen refuses absurd inputs before any parsing work; our
	// tokens are a few hundred bytes.
	maxTokenLen = 4096
	// maxFieldLen bounds the holder key and verification id we sign.
	maxFieldLen = 256
)

// Message is the one client-safe message for every token failure.
const Message = "The session token is missing, invalid or expired."

// Reasons for logs only: fixed texts, never any part of the token.
var (
	errMissing    = errors.New("session: no token")
	errMalformed  = errors.New("session: malformed token")
	errExpired    = errors.New("session: token expired")
	errSignature  = errors.New("session: signature does not verify")
	errUnknownKey = errors.New("session: unknown or missing key id")
	errClaims     = errors.New("session: claims refused")
)

// Claims is what a verified token says about its holder.
type Claims struct {
	HolderKey      string // subject: keyed hash of the holder's number
	VerificationID string // the verification that opened this session
	TokenID        string // jti, unique per token (for revocation or audit)
	IssuedAt       time.Time
	ExpiresAt      time.Time
	// AuthTime is when the holder verified (the first token's issue
	// time); refreshed tokens keep it, and it bounds their expiry.
	AuthTime time.Time
}

// tokenClaims is the wire form: the registered claims plus the verification
// id under a short private name.
type tokenClaims struct {
	VerificationID string `json:"vid"`
	// AuthTime is OpenID Connect's auth_time: the verification's time in
	// seconds, carried unchanged by every refresh.
	AuthTime *jwt.NumericDate `json:"auth_time,omitempty"`
	jwt.RegisteredClaims
}

// Issuer issues and verifies session tokens. Safe for concurrent use.
type Issuer struct {
	mu     sync.RWMutex
	keys   map[string][]byte
	active string
	// macs hold, for each key of the ring, HMACs ready to check a
	// signature with it: keyed once, reset between tokens (macPools).
	macs map[string]*sync.Pool
	// heads are the token headers read lately (knownHeads): every token
	// signed with one key has the same header, so it is read once.
	heads atomic.Pointer[[]knownHead]
	// refresh, when set, fetches the key ring again for a kid the issuer
	// does not have (a key added by rotation since the cold start).
	refresh func() (map[string][]byte, string, bool)
	ttl     time.Duration
	maxAge  time.Duration
	now     func() time.Time
}

// New builds an Issuer from HMAC keys by key id; activeKID names the key new
// tokens are signed with. ttl 0 means DefaultTTL; now nil means time.Now.
// Keys are copied, so the caller may wipe its slices.
func New(keys map[string][]byte, activeKID string, ttl time.Duration, now func() time.Time) (*Issuer, error) {
	if len(keys) == 0 {
		return nil, errors.New("session: no keys")
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < time.Second || ttl > MaxTTL {
		return nil, fmt.Errorf("session: ttl must be between 1s and %s", MaxTTL)
	}
	if now == nil {
		now = time.Now
	}
	ring, err := checkRing(keys, activeKID)
	if err != nil {
		return nil, err
	}
	iss := &Issuer{keys: ring, active: activeKID, macs: macPools(ring), ttl: ttl, maxAge: DefaultMaxAge, now: now}
	return iss, nil
}

// macPools gives each key of a ring a pool of HMAC-SHA256s keyed with it.
// Keying one hashes the key's two pads; a pooled one is only reset, which
// restores that state, so a signature check costs the token's own blocks.
func macPools(ring map[string][]byte) map[string]*sync.Pool {
	pools := make(map[string]*sync.Pool, len(ring))
	for kid, k := range ring {
		pools[kid] = &sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}
	}
	return pools
}

func checkRing(keys map[string][]byte, activeKID string) (map[string][]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("session: no keys")
	}
	ring := make(map[string][]byte, len(keys))
	for kid, k := range keys {
		if kid == "" || len(kid) > 64 || strings.ContainsAny(kid, " \t\r\n") {
			return nil, errors.New("session: key ids must be 1-64 characters without spaces")
		}
		if len(k) < MinKeyBytes {
			// The id is ours and safe to name; the key is not.
			return nil, fmt.Errorf("session: key %s must be at least %d bytes", kid, MinKeyBytes)
		}
		ring[kid] = append([]byte(nil), k...)
	}
	if _, ok := ring[activeKID]; !ok {
		return nil, errors.New("session: the active key id names no key")
	}
	return ring, nil
}

// SetRefresh makes the issuer ask f for the key ring again when a token
// names a kid it does not have: f returns the keys, the active id, and
// whether it fetched anything new (it limits how often it fetches). A
// ring f returns that does not check out is ignored.
func (i *Issuer) SetRefresh(f func() (map[string][]byte, string, bool)) { i.refresh = f }

// ActiveKeyID is the key id new tokens carry.
func (i *Issuer) ActiveKeyID() string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.active
}

// TTL is the lifetime of new tokens.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// SetMaxAge sets the absolute cap counted from the verification (0 means
// DefaultMaxAge). It must be at least the TTL and at most MaxMaxAge.
func (i *Issuer) SetMaxAge(d time.Duration) error {
	if d == 0 {
		d = DefaultMaxAge
	}
	if d < i.ttl || d > MaxMaxAge {
		return fmt.Errorf("session: max age must be between the ttl (%s) and %s", i.ttl, MaxMaxAge)
	}
	i.maxAge = d
	return nil
}

// MaxAge is the absolute cap on a session counted from its verification.
func (i *Issuer) MaxAge() time.Duration { return i.maxAge }

// Issue signs a token for the holder, returning it and its expiry (what
// API.md's confirm step answers as "expiresAt").
func (i *Issuer) Issue(holderKey, verificationID string) (string, time.Time, error) {
	// JWT times are whole seconds; truncating here makes the returned
	// expiry equal to the one inside the token.
	iat := i.now().UTC().Truncate(time.Second)
	return i.sign(holderKey, verificationID, iat, iat)
}

// Refresh signs a new token for the holder of verified claims c (from
// Verify): same holder, same verification, a fresh TTL, but never past
// AuthTime plus the max age. A session already at its cap gets the same
// UNAUTHENTICATED error as an expired token.
func (i *Issuer) Refresh(c Claims) (string, time.Time, error) {
	iat := i.now().UTC().Truncate(time.Second)
	auth := c.AuthTime
	if auth.IsZero() {
		auth = c.IssuedAt
	}
	if !iat.Before(auth.Add(i.maxAge)) {
		return "", time.Time{}, unauthenticated(errExpired)
	}
	return i.sign(c.HolderKey, c.VerificationID, iat, auth.UTC().Truncate(time.Second))
}

func (i *Issuer) sign(holderKey, verificationID string, iat, auth time.Time) (string, time.Time, error) {
	if holderKey == "" || len(holderKey) > maxFieldLen || verificationID == "" || len(verificationID) > maxFieldLen {
		return "", time.Time{}, errors.New("session: holder key and verification id must be 1-256 characters")
	}
	jti, err := newTokenID()
	if err != nil {
		return "", time.Time{}, err
	}
	exp := iat.Add(i.ttl)
	if limit := auth.Add(i.maxAge); exp.After(limit) {
		exp = limit
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, tokenClaims{
		VerificationID: verificationID,
		AuthTime:       jwt.NewNumericDate(auth),
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    IssuerName,
			Subject:   holderKey,
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        jti,
		},
	})
	i.mu.RLock()
	active, key := i.active, i.keys[i.active]
	i.mu.RUnlock()
	tok.Header["kid"] = active
	s, err := tok.SignedString(key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("session: sign: %w", err)
	}
	return s, exp, nil
}

// Verify checks a token and returns its claims. Every failure is an
// UNAUTHENTICATED *apperr.Error with Message; its cause, for logs, is one of
// a few fixed reasons.
func (i *Issuer) Verify(token string) (Claims, error) {
	if token == "" {
		return Claims{}, unauthenticated(errMissing)
	}
	if len(token) > maxTokenLen {
		return Claims{}, unauthenticated(errMalformed)
	}
	tc, err := i.parse(token)
	if err != nil {
		return Claims{}, unauthenticated(err)
	}
	// The library checks iat only when present; we require it, and every
	// field we hand to callers must be there.
	if tc.IssuedAt == nil || tc.ExpiresAt == nil || tc.Subject == "" || tc.ID == "" ||
		tc.VerificationID == "" || len(tc.Subject) > maxFieldLen || len(tc.VerificationID) > maxFieldLen {
		return Claims{}, unauthenticated(errClaims)
	}
	// Tokens minted before auth_time existed count from their issue time.
	auth := tc.IssuedAt.Time
	if tc.AuthTime != nil {
		auth = tc.AuthTime.Time
	}
	if auth.After(tc.IssuedAt.Time) {
		return Claims{}, unauthenticated(errClaims)
	}
	return Claims{
		HolderKey:      tc.Subject,
		VerificationID: tc.VerificationID,
		TokenID:        tc.ID,
		IssuedAt:       tc.IssuedAt.UTC(),
		ExpiresAt:      tc.ExpiresAt.UTC(),
		AuthTime:       auth.UTC(),
	}, nil
}

// headerOptions read a header's names case-sensitively, as the library's
// map does, and otherwise as encoding/json: a repeated name's last value,
// invalid UTF-8 replaced.
var headerOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// segment is a token segment's decoder: base64url without padding, strict
// (no stray bits), as the library's WithStrictDecoding.
var segment = base64.RawURLEncoding.Strict()

// parse checks a token as the JWT library's parser would, pinned to HS256
// with our audience, issuer, required expiry, issued-at check, Leeway and
// strict base64 (the reference in parse_test.go, which holds the two to
// the same answers, reason for reason): three segments; a header naming
// HS256 and a key of the ring; the signature over the first two
// segments; then the claims: expiry required and not passed, issued-at
// and not-before not ahead of the clock (each with Leeway), the audience
// and the issuer ours. It returns one of the fixed reasons. It does
// only what our tokens need, without the library's generic header map,
// claim decoders and validator: about a quarter less time and half the
// allocations of the library's parser (go test -bench Verify
// ./shared/session/), on every holder call.
func (i *Issuer) parse(token string) (tokenClaims, error) {
	var tc tokenClaims
	// The library's order, so a token bad in two ways gets its reason.
	head, rest, ok := strings.Cut(token, ".")
	if !ok {
		return tc, errMalformed
	}
	body, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return tc, errMalformed
	}
	h, known, ok := i.header(head)
	if !ok {
		return tc, errMalformed
	}
	if cb, err := segment.DecodeString(body); err != nil || decodeClaims(cb, &tc) != nil {
		return tc, errMalformed
	}
	if h.alg != jwt.SigningMethodHS256.Alg() {
		return tc, errSignature
	}
	sb, err := segment.DecodeString(sig)
	if err != nil {
		return tc, errMalformed
	}
	_, macs, ok := i.key(h.kid)
	if !ok {
		return tc, errUnknownKey
	}
	mac := macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write([]byte(token[:len(head)+1+len(body)]))
	var sum [sha256.Size]byte
	good := hmac.Equal(mac.Sum(sum[:0]), sb)
	macs.Put(mac)
	if !good {
		return tc, errSignature
	}
	if !known {
		i.remember(h)
	}
	now := i.now()
	switch {
	case tc.ExpiresAt == nil:
		return tc, errClaims
	case !now.Before(tc.ExpiresAt.Add(Leeway)):
		return tc, errExpired
	case tc.NotBefore != nil && now.Add(Leeway).Before(tc.NotBefore.Time),
		tc.IssuedAt != nil && now.Add(Leeway).Before(tc.IssuedAt.Time),
		!slices.Contains(tc.Audience, Audience), tc.Issuer != IssuerName:
		return tc, errClaims
	}
	return tc, nil
}

// claimsOptions read a token's claims as encoding/json does: a repeated
// name's last value kept, invalid UTF-8 in strings replaced.
var claimsOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// errClaimType is a claim of the wrong JSON type; the caller only tells
// an error from none (the token is malformed either way).
var errClaimType = errors.New("session: a claim of the wrong type")

// decodeClaims reads a token's claims as encoding/json reads them into
// tokenClaims, with the JWT library's own decoders for dates and the
// audience, but walking the tokens itself instead of going by reflection
// and decoding every date and the audience a second time: each holder
// call pays it (FuzzDecodeClaims holds it to encoding/json). As
// encoding/json: null is no claims at all; names match exactly or
// folded as encoding/json folds them; a repeated name's last value wins;
// a null string claim is left as it was, a null date is none, a null
// audience is left as it was; a date may be a number or a string holding
// one; anything else of the wrong type is an error.
func decodeClaims(b []byte, tc *tokenClaims) error {
	cd := claimsDecoders.Get().(*claimsDecoder)
	defer claimsDecoders.Put(cd)
	cd.r.Reset(b)
	cd.dec.Reset(&cd.r, claimsOptions)
	dec := &cd.dec
	first, err := dec.ReadToken()
	if err != nil {
		return err
	}
	var out tokenClaims
	switch first.Kind() {
	case 'n':
	case '{':
		for dec.PeekKind() != '}' {
			name, err := dec.ReadToken()
			if err != nil {
				return err
			}
			if err := decodeClaim(dec, claimOf(name.String()), &out); err != nil {
				return err
			}
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
	default:
		return errClaimType
	}
	// One value only, as encoding/json takes it.
	if _, err := dec.ReadToken(); err != io.EOF {
		if err == nil {
			err = errClaimType
		}
		return err
	}
	*tc = out
	return nil
}

// claimsDecoder is a decoder kept between tokens (a pool of them): its
// buffers and state stacks are made once, not once a call.
type claimsDecoder struct {
	r   bytes.Reader
	dec jsontext.Decoder
}

var claimsDecoders = sync.Pool{New: func() any { return new(claimsDecoder) }}

// The claims decodeClaims knows, by name, in the order of the constants.
var claimNames = jsonfold.NewFields("vid", "auth_time", "iss", "sub", "aud", "exp", "nbf", "iat", "jti")

const (
	claimVID = iota
	claimAuthTime
	claimIss
	claimSub
	claimAud
	claimExp
	claimNbf
	claimIat
	claimJti
	claimOther
)

// claimOf is the claim a name is, matched as encoding/json matches a
// name to a field (package jsonfold).
func claimOf(name string) int {
	if c := jsonfold.Index(claimNames, name); c >= 0 {
		return c
	}
	return claimOther
}

// decodeClaim reads one claim's value into out.
func decodeClaim(dec *jsontext.Decoder, claim int, out *tokenClaims) error {
	switch claim {
	case claimAud:
		return decodeAudience(dec, &out.Audience)
	case claimOther:
		return dec.SkipValue()
	}
	// A string claim or a date, by the claim's number.
	str := [claimOther]*string{claimVID: &out.VerificationID, claimIss: &out.Issuer, claimSub: &out.Subject, claimJti: &out.ID}[claim]
	date := [claimOther]**jwt.NumericDate{claimAuthTime: &out.AuthTime, claimExp: &out.ExpiresAt, claimNbf: &out.NotBefore, claimIat: &out.IssuedAt}[claim]
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch k := tok.Kind(); {
	case str != nil && k == '"':
		*str = tok.String()
	case str != nil && k == 'n':
	case date != nil && k == 'n':
		*date = nil
	case date != nil && (k == '0' || k == '"' && validNumber(tok.String())):
		// json.Number's Float64, then the library's NumericDate.
		f, err := strconv.ParseFloat(tok.String(), 64)
		if err != nil {
			return err
		}
		whole, frac := math.Modf(f)
		*date = jwt.NewNumericDate(time.Unix(int64(whole), int64(frac*1e9)))
	default:
		if k == '{' || k == '[' {
			// The rest of the value, to read on past it.
			if err := dec.SkipValue(); err != nil {
				return err
			}
		}
		return errClaimType
	}
	return nil
}

// decodeAudience reads "aud" as jwt.ClaimStrings does: a string is one
// audience, an array of strings any number (none for an empty one), null
// leaves the audience as it was, anything else is an error.
func decodeAudience(dec *jsontext.Decoder, aud *jwt.ClaimStrings) error {
	tok, err := dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case 'n':
		return nil
	case '"':
		*aud = jwt.ClaimStrings{tok.String()}
		return nil
	case '[':
		var list jwt.ClaimStrings
		for dec.PeekKind() != ']' {
			if dec.PeekKind() != '"' {
				return errClaimType
			}
			s, err := dec.ReadToken()
			if err != nil {
				return err
			}
			list = append(list, s.String())
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		*aud = list
		return nil
	case '{':
		return errClaimType
	}
	return errClaimType
}

// validNumber is JSON's number grammar, which encoding/json holds a
// string to before taking it as a json.Number.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// key is the ring's key of kid; a kid the ring does not have is looked
// up once more in a fresh ring (a key added by rotation since the cold
// start).
func (i *Issuer) key(kid string) (k []byte, macs *sync.Pool, ok bool) {
	i.mu.RLock()
	k, macs, ok = i.keys[kid], i.macs[kid], i.macs[kid] != nil
	i.mu.RUnlock()
	if !ok && kid != "" && i.refresh != nil {
		if keys, active, fresh := i.refresh(); fresh {
			if ring, err := checkRing(keys, active); err == nil {
				pools := macPools(ring)
				i.mu.Lock()
				i.keys, i.active, i.macs = ring, active, pools
				k, macs, ok = ring[kid], pools[kid], pools[kid] != nil
				i.mu.Unlock()
			}
		}
	}
	return k, macs, ok
}

// knownHead is a token header read before: its segment as sent, and the
// algorithm and key id it names ("" when not a string).
type knownHead struct{ seg, alg, kid string }

// maxKnownHeads bounds the headers kept: one per key of the ring is what
// tokens of ours carry; a stranger's odd headers are read every time.
const maxKnownHeads = 8

// header reads a token's header segment, from the headers read before
// when it is one of them (known). ok is false when it is not base64url
// JSON.
func (i *Issuer) header(seg string) (h knownHead, known, ok bool) {
	if heads := i.heads.Load(); heads != nil {
		for _, h := range *heads {
			if h.seg == seg {
				return h, true, true
			}
		}
	}
	var v struct {
		Alg any `json:"alg"`
		Kid any `json:"kid"`
	}
	// Names as they are written (the library reads the header into a
	// map), the last of a name given twice, invalid UTF-8 let through.
	if hb, err := segment.DecodeString(seg); err != nil || jsonv2.Unmarshal(hb, &v, headerOptions) != nil {
		return knownHead{}, false, false
	}
	h = knownHead{seg: seg}
	h.alg, _ = v.Alg.(string)
	h.kid, _ = v.Kid.(string)
	return h, false, true
}

// remember keeps the header of a token whose signature held, so only our
// own headers are kept and a stranger's cannot push them out.
func (i *Issuer) remember(h knownHead) {
	heads := i.heads.Load()
	var next []knownHead
	if heads != nil {
		if len(*heads) >= maxKnownHeads {
			return
		}
		next = append(next, *heads...)
	}
	next = append(next, h)
	i.heads.CompareAndSwap(heads, &next)
}

func unauthenticated(cause error) *apperr.Error {
	return apperr.Wrap(cause, apperr.Unauthenticated, Message)
}

// newTokenID returns 128 random bits, enough that ids never collide.
func newTokenID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session: token id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
