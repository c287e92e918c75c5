// Package apikey owns the API keys that brokers and shops call the
// clearance check with: their form, how they are made and stored, and how a
// request's key is checked.
//
// A key is "pccc.<id>.<secret>": a public id of 16 hex digits (64 random
// bits), which names the key in logs, in the operator's list and in the
// table, and a secret of 256 random bits from crypto/rand. Only a SHA-256
// of the secret (bound to the id) is stored: the secret has so much entropy
// that an unkeyed hash cannot be searched back, and a copy of the table
// gives no working key. The plaintext is shown once, when the operator
// creates the key.
//
// Callers send it as `Authorization: ApiKey <key>`. Keys are made, listed
// and revoked only by an operator, through infra/cmd/pccc-keys; no public
// route writes them.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/httpapi"
)

// Scheme is the Authorization scheme of an API key.
const Scheme = "ApiKey"

const (
	prefix      = "pccc"
	idBytes     = 8
	secretBytes = 32
	idLen       = 2 * idBytes             // hex
	secretLen   = (secretBytes*8 + 5) / 6 // unpadded base64url: 43
	keyLen      = len(prefix) + 2 + idLen + secretLen
	hashDomain  = "pccc-apikey-v1"
	// MaxRatePerMinute bounds a key's rate limit.
	MaxRatePerMinute = 100_000
	// MaxOwnerLen bounds the owner's name, in characters.
	MaxOwnerLen = 100
)

// Role is what a key is for.
type Role string

const (
	// Broker keys (brokers and shops) check codes and file declarations;
	// every key made before roles existed is one.
	Broker Role = "broker"
	// Authority keys (the customs authority) read the statistics.
	Authority Role = "authority"
)

// ParseRole reads a role's name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case Broker, Authority:
		return r, nil
	}
	return "", fmt.Errorf("apikey: role must be %s or %s", Broker, Authority)
}

// Record is a stored key. It holds the hash of the secret, never the
// secret.
type Record struct {
	ID    string
	Owner string // the broker or shop the key was given to
	Role  Role   // Broker when not stored
	// RatePerMinute is how many checks the key may make a minute.
	RatePerMinute int
	Hash          string // hex SHA-256 of the secret, bound to the id
	Revoked       bool
	CreatedAt     time.Time
	RevokedAt     time.Time // zero while the key works
}

// Errors of the key store; the store returns them, Authenticate and the
// operator command turn them into answers.
var (
	ErrNoKey  = errors.New("apikey: no such key")
	ErrExists = errors.New("apikey: a key with this id exists")
)

// New makes a key for owner with a rate limit and returns the plaintext,
// to be shown once, and the record to store. rnd nil means crypto/rand.
func New(owner string, ratePerMinute int, now time.Time, rnd io.Reader) (plaintext string, rec Record, err error) {
	owner, err = ValidOwner(owner)
	if err != nil {
		return "", Record{}, err
	}
	if ratePerMinute < 1 || ratePerMinute > MaxRatePerMinute {
		return "", Record{}, fmt.Errorf("apikey: rate must be 1-%d checks a minute", MaxRatePerMinute)
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	var b [idBytes + secretBytes]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return "", Record{}, fmt.Errorf("apikey: random source: %w", err)
	}
	id := hex.EncodeToString(b[:idBytes])
	secret := base64.RawURLEncoding.EncodeToString(b[idBytes:])
	return prefix + "." + id + "." + secret, Record{
		ID: id, Owner: owner, Role: Broker, RatePerMinute: ratePerMinute, Hash: Hash(id, secret), CreatedAt: now.UTC(),
	}, nil
}

// ValidOwner trims an owner's name and checks it: 1-100 characters, no
// control characters.
func ValidOwner(s string) (string, error) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxOwnerLen {
		return "", fmt.Errorf("apikey: owner must be 1-%d characters", MaxOwnerLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", errors.New("apikey: owner must have no control characters")
		}
	}
	return s, nil
}

// Hash is the stored form of a key's secret: hex SHA-256 over a domain
// label, the id and the secret, so a hash copied to another id does not
// verify.
func Hash(id, secret string) string {
	h := sha256.New()
	h.Write([]byte(hashDomain + "\x00" + id + "\x00" + secret))
	return hex.EncodeToString(h.Sum(nil))
}

// Parse splits a plaintext key into its id and secret, checking the shape
// only.
func Parse(key string) (id, secret string, ok bool) {
	if len(key) != keyLen {
		return "", "", false
	}
	p, rest, _ := strings.Cut(key, ".")
	id, secret, _ = strings.Cut(rest, ".")
	if p != prefix || !ValidID(id) || len(secret) != secretLen {
		return "", "", false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// ValidID reports whether s has the shape of a key id.
func ValidID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Reader reads stored keys by id (dynamo.APIKeyStore); ErrNoKey when there
// is none.
type Reader interface {
	Key(ctx context.Context, id string) (Record, error)
}

// Message is the one answer to every key that does not authenticate:
// missing, malformed, unknown, wrong or revoked.
const Message = "A valid API key is required: send Authorization: ApiKey <key>."

func unauthenticated(cause error) *apperr.Error {
	return apperr.Wrap(cause, apperr.Unauthenticated, Message)
}

// decoyHash is compared against when the id names no key, so an unknown id
// costs the same hash and comparison as a wrong secret.
var decoyHash = Hash("0000000000000000", strings.Repeat("A", secretLen))

// Authenticate checks an Authorization header value and returns the key's
// record. Every failure is the same 401; the cause, which names at most
// the public id, is kept for the logs.
func Authenticate(ctx context.Context, keys Reader, header string) (Record, error) {
	scheme, key, ok := strings.Cut(strings.TrimSpace(header), " ")
	if header == "" {
		return Record{}, unauthenticated(errors.New("no API key"))
	}
	if !ok || !strings.EqualFold(scheme, Scheme) {
		return Record{}, unauthenticated(errors.New("not an ApiKey authorization"))
	}
	id, secret, ok := Parse(strings.TrimSpace(key))
	if !ok {
		return Record{}, unauthenticated(errors.New("malformed API key"))
	}
	rec, err := keys.Key(ctx, id)
	want := rec.Hash
	switch {
	case errors.Is(err, ErrNoKey):
		want = decoyHash
	case err != nil:
		return Record{}, fmt.Errorf("read API key %s: %w", id, err)
	}
	got := Hash(id, secret)
	same := subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
	switch {
	case err != nil || !same:
		return Record{}, unauthenticated(fmt.Errorf("API key %s unknown or wrong", id))
	case rec.Revoked:
		return Record{}, unauthenticated(fmt.Errorf("API key %s is revoked", id))
	}
	return rec, nil
}

// CallerEndpoint is an endpoint that runs only for a caller with a working
// key; the key's record comes as an argument so the endpoint cannot forget
// it.
type CallerEndpoint func(ctx context.Context, req *httpapi.Request, caller Record) (*httpapi.Response, error)

// Require wraps next so it runs only with a working API key.
func Require(keys Reader, next CallerEndpoint) httpapi.Endpoint {
	return func(ctx context.Context, req *httpapi.Request) (*httpapi.Response, error) {
		rec, err := Authenticate(ctx, keys, req.Header("Authorization"))
		if err != nil {
			return nil, err
		}
		return next(ctx, req, rec)
	}
}

// ErrRole is the answer to a working key of the wrong role.
var ErrRole = apperr.New(apperr.Forbidden, "This API key may not use this route.")

// RequireRole wraps next so it runs only with a working API key of role;
// a working key of another role is 403.
func RequireRole(keys Reader, role Role, next CallerEndpoint) httpapi.Endpoint {
	return Require(keys, func(ctx context.Context, req *httpapi.Request, caller Record) (*httpapi.Response, error) {
		if caller.Role != role {
			return nil, apperr.Wrap(fmt.Errorf("API key %s is a %s key, not %s", caller.ID, caller.Role, role), ErrRole.Code, ErrRole.Message)
		}
		return next(ctx, req, caller)
	})
}
