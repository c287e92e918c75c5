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
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pccc/pccc/shared/apperr"
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
}

// tokenClaims is the wire form: the registered claims plus the verification
// id under a short private name.
type tokenClaims struct {
	VerificationID string `json:"vid"`
	jwt.RegisteredClaims
}

// Issuer issues and verifies session tokens. Safe for concurrent use.
type Issuer struct {
	keys   map[string][]byte
	active string
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
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
	iss := &Issuer{keys: ring, active: activeKID, ttl: ttl, now: now}
	iss.parser = jwt.NewParser(
		// Pinning the algorithm defeats "alg: none" and algorithm
		// confusion whatever the header claims.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(Audience),
		jwt.WithIssuer(IssuerName),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	return iss, nil
}

// ActiveKeyID is the key id new tokens carry.
func (i *Issuer) ActiveKeyID() string { return i.active }

// TTL is the lifetime of new tokens.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Issue signs a token for the holder, returning it and its expiry (what
// API.md's confirm step answers as "expiresAt").
func (i *Issuer) Issue(holderKey, verificationID string) (string, time.Time, error) {
	if holderKey == "" || len(holderKey) > maxFieldLen || verificationID == "" || len(verificationID) > maxFieldLen {
		return "", time.Time{}, errors.New("session: holder key and verification id must be 1-256 characters")
	}
	jti, err := newTokenID()
	if err != nil {
		return "", time.Time{}, err
	}
	// JWT times are whole seconds; truncating here makes the returned
	// expiry equal to the one inside the token.
	iat := i.now().UTC().Truncate(time.Second)
	exp := iat.Add(i.ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, tokenClaims{
		VerificationID: verificationID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    IssuerName,
			Subject:   holderKey,
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(exp),
			IssuedAt:  jwt.NewNumericDate(iat),
			ID:        jti,
		},
	})
	tok.Header["kid"] = i.active
	s, err := tok.SignedString(i.keys[i.active])
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
	var tc tokenClaims
	_, err := i.parser.ParseWithClaims(token, &tc, i.keyFor)
	if err != nil {
		return Claims{}, unauthenticated(reason(err))
	}
	// The library checks iat only when present; we require it, and every
	// field we hand to callers must be there.
	if tc.IssuedAt == nil || tc.ExpiresAt == nil || tc.Subject == "" || tc.ID == "" ||
		tc.VerificationID == "" || len(tc.Subject) > maxFieldLen || len(tc.VerificationID) > maxFieldLen {
		return Claims{}, unauthenticated(errClaims)
	}
	return Claims{
		HolderKey:      tc.Subject,
		VerificationID: tc.VerificationID,
		TokenID:        tc.ID,
		IssuedAt:       tc.IssuedAt.UTC(),
		ExpiresAt:      tc.ExpiresAt.UTC(),
	}, nil
}

// keyFor picks the key the kid header names. The algorithm is already pinned
// by the parser; checking it here too keeps this function safe on its own.
func (i *Issuer) keyFor(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, errSignature
	}
	kid, _ := t.Header["kid"].(string)
	k, ok := i.keys[kid]
	if !ok {
		return nil, errUnknownKey
	}
	return k, nil
}

// reason maps a library error to one of our fixed reasons, so nothing the
// library might quote from the input reaches a log.
func reason(err error) error {
	switch {
	case errors.Is(err, errUnknownKey):
		return errUnknownKey
	case errors.Is(err, jwt.ErrTokenExpired):
		return errExpired
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable),
		errors.Is(err, errSignature):
		return errSignature
	default:
		return errClaims
	}
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
