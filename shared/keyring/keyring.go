// Package keyring owns the keys the functions use and where they come from:
// never from the function's configuration, but from key rings kept
// encrypted under the stack's own KMS key, one ring per kind of key, each
// an object in the keys bucket (template.yaml KeysBucket, KeysKey). A
// function fetches the rings it is given (PCCC_KEYS, e.g. "hmac,data") at
// cold start, keeps them for the life of its environment, and fetches a
// ring again when it meets a key id it does not know (a key added by
// rotation since its cold start), at most once every MinRefresh per kind.
//
// A ring object is the KMS ciphertext of the ring's JSON,
//
//	{"active": "d2", "keys": {"d1": "<base64 of 32 bytes>", "d2": "..."}}
//
// encrypted with the encryption context {"pccc:keyring": "<kind>"}, so a
// grant of kms:Decrypt can be limited to the kinds a function uses, and a
// ring copied under another kind's name does not decrypt. infra/keyadmin
// writes them (pccc-keys rotate); nothing else may.
package keyring

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kind names a ring.
type Kind string

const (
	// HMAC keys the hash that finds a holder by registration number
	// (shared/keyhash). Its active key is the one used: a holder's key is
	// a hash under it, so it is not rotated by adding a key.
	HMAC Kind = "hmac"
	// Data seals personal fields at rest (shared/sealer), by key id.
	Data Kind = "data"
	// Session signs holder session tokens (shared/session), by key id.
	Session Kind = "session"
	// Origin holds the values of the header the CloudFront distribution
	// sends to the API (shared/httpapi.RequireOrigin): each key of the
	// ring, as its base64 text, is accepted, so the old value still passes
	// while the edge moves to the new one.
	Origin Kind = "origin"
)

// Kinds are every kind, in a fixed order.
var Kinds = []Kind{HMAC, Data, Session, Origin}

// EnvKinds names the function setting listing the kinds it is given, and
// EnvBucket the bucket its rings are in.
const (
	EnvKinds  = "PCCC_KEYS"
	EnvBucket = "PCCC_KEYS_BUCKET"
)

// ContextKey is the KMS encryption context key; its value is the kind.
const ContextKey = "pccc:keyring"

// ObjectKey is where a kind's ring is in the keys bucket.
func ObjectKey(k Kind) string { return "keys/" + string(k) }

// KeyBytes is the length of every key.
const KeyBytes = 32

// MinRefresh is the shortest time between two fetches of one ring on an
// unknown key id: a stream of made-up ids costs one fetch in that time. A
// variable so that a test can show a rotation picked up at once.
var MinRefresh = 10 * time.Second

// Ring is one kind's keys by id and the id in use for new values.
type Ring struct {
	Active string
	Keys   map[string][]byte
}

type wire struct {
	Active string            `json:"active"`
	Keys   map[string]string `json:"keys"`
}

// Marshal is the ring's JSON (the plaintext that is encrypted).
func (r Ring) Marshal() ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	w := wire{Active: r.Active, Keys: map[string]string{}}
	for id, k := range r.Keys {
		w.Keys[id] = base64.StdEncoding.EncodeToString(k)
	}
	return json.Marshal(w)
}

// Parse reads a ring's JSON. No error names any part of a key.
func Parse(b []byte) (Ring, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return Ring{}, errors.New("keyring: the ring is not the expected JSON")
	}
	r := Ring{Active: w.Active, Keys: map[string][]byte{}}
	for id, enc := range w.Keys {
		k, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return Ring{}, fmt.Errorf("keyring: key %s is not base64", safeID(id))
		}
		r.Keys[id] = k
	}
	return r, r.check()
}

func (r Ring) check() error {
	if len(r.Keys) == 0 {
		return errors.New("keyring: the ring has no keys")
	}
	for id, k := range r.Keys {
		if id == "" || len(id) > 32 || strings.ContainsAny(id, ". \t\r\n") {
			return fmt.Errorf("keyring: key id %s must be 1-32 characters without '.' or spaces", safeID(id))
		}
		if len(k) != KeyBytes {
			return fmt.Errorf("keyring: key %s must be %d bytes", id, KeyBytes)
		}
	}
	if _, ok := r.Keys[r.Active]; !ok {
		return fmt.Errorf("keyring: the active id %s names no key of the ring", safeID(r.Active))
	}
	return nil
}

// IDs are the ring's key ids, sorted.
func (r Ring) IDs() []string {
	ids := make([]string, 0, len(r.Keys))
	for id := range r.Keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func safeID(id string) string {
	if len(id) > 32 {
		id = id[:32]
	}
	return fmt.Sprintf("%q", id)
}

// Source fetches a ring: the keys bucket and KMS in production and in the
// local stacks (Store), a map in unit tests.
type Source interface {
	Fetch(ctx context.Context, k Kind) (Ring, error)
	// Where names the ring's place for error messages (no key material).
	Where(k Kind) string
}

// Keys are the rings one function was given, fetched at its cold start.
// Safe for concurrent use.
type Keys struct {
	src   Source
	now   func() time.Time
	given []Kind

	mu      sync.Mutex
	rings   map[Kind]Ring
	fetched map[Kind]time.Time
	used    map[Kind]bool
}

// ParseKinds reads a PCCC_KEYS value: kinds separated by commas.
func ParseKinds(s string) ([]Kind, error) {
	var out []Kind
	seen := map[Kind]bool{}
	for _, part := range strings.Split(s, ",") {
		k := Kind(strings.TrimSpace(part))
		if k == "" {
			continue
		}
		known := false
		for _, x := range Kinds {
			known = known || x == k
		}
		if !known {
			return nil, fmt.Errorf("%s: unknown kind %q (want some of hmac, data, session, origin)", EnvKinds, k)
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// Load fetches every ring of kinds from src. A ring that cannot be had
// fails the whole load with an error naming the kind and where it was
// looked for: a function never starts on a key of its own making.
func Load(ctx context.Context, src Source, kinds []Kind, now func() time.Time) (*Keys, error) {
	if now == nil {
		now = time.Now
	}
	k := &Keys{src: src, now: now, given: kinds, rings: map[Kind]Ring{}, fetched: map[Kind]time.Time{}, used: map[Kind]bool{}}
	var problems []string
	for _, kind := range kinds {
		r, err := src.Fetch(ctx, kind)
		if err != nil {
			problems = append(problems, fmt.Sprintf("the %s keys (%s): %v", kind, src.Where(kind), err))
			continue
		}
		k.rings[kind], k.fetched[kind] = r, now()
	}
	if len(problems) > 0 {
		return nil, errors.New("keys: cannot get " + strings.Join(problems, "; "))
	}
	return k, nil
}

// Ring is the cached ring of a kind the function was given; asking for a
// kind it was not given is an error naming it (the template's PCCC_KEYS
// for the function must list it, with the grants to read it).
func (k *Keys) Ring(kind Kind) (Ring, error) {
	if k == nil {
		return Ring{}, fmt.Errorf("keys: no keys were loaded, so the %s keys are missing (%s)", kind, EnvKinds)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	r, ok := k.rings[kind]
	if !ok {
		return Ring{}, fmt.Errorf("keys: this function was not given the %s keys (%s lists %s)", kind, EnvKinds, k.givenList())
	}
	k.used[kind] = true
	return r, nil
}

func (k *Keys) givenList() string {
	if len(k.given) == 0 {
		return "none"
	}
	s := make([]string, len(k.given))
	for i, g := range k.given {
		s[i] = string(g)
	}
	return strings.Join(s, ",")
}

// Refresh fetches a kind's ring again unless it was fetched less than
// MinRefresh ago, and returns the ring now cached and whether it was
// fetched anew. A failed fetch keeps the cached ring.
func (k *Keys) Refresh(ctx context.Context, kind Kind) (Ring, bool, error) {
	k.mu.Lock()
	last, ok := k.fetched[kind]
	cached := k.rings[kind]
	if !ok {
		k.mu.Unlock()
		return Ring{}, false, fmt.Errorf("keys: this function was not given the %s keys", kind)
	}
	if k.now().Sub(last) < MinRefresh {
		k.mu.Unlock()
		return cached, false, nil
	}
	// Claimed before the fetch, so concurrent misses make one fetch.
	k.fetched[kind] = k.now()
	k.mu.Unlock()
	r, err := k.src.Fetch(ctx, kind)
	if err != nil {
		return cached, false, fmt.Errorf("keys: refresh the %s keys (%s): %w", kind, k.src.Where(kind), err)
	}
	k.mu.Lock()
	k.rings[kind] = r
	k.mu.Unlock()
	return r, true, nil
}

// Unused are the kinds the function was given but never asked for: a
// grant wider than the code needs (the local runner refuses to start such
// a function).
func (k *Keys) Unused() []Kind {
	if k == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []Kind
	for _, g := range k.given {
		if !k.used[g] {
			out = append(out, g)
		}
	}
	return out
}

// Static is a Source of fixed rings, for unit tests and benchmarks that
// build functions without a stack. Set replaces a ring (a rotation).
type Static struct {
	mu    sync.Mutex
	rings map[Kind]Ring
}

// NewStatic returns a Static source of rings.
func NewStatic(rings map[Kind]Ring) *Static {
	s := &Static{rings: map[Kind]Ring{}}
	for k, r := range rings {
		s.rings[k] = r
	}
	return s
}

// Set replaces the ring of a kind.
func (s *Static) Set(k Kind, r Ring) {
	s.mu.Lock()
	s.rings[k] = r
	s.mu.Unlock()
}

// Fetch implements Source.
func (s *Static) Fetch(_ context.Context, k Kind) (Ring, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rings[k]
	if !ok {
		return Ring{}, errors.New("no such ring")
	}
	return r, nil
}

// Where implements Source.
func (s *Static) Where(k Kind) string { return "static ring " + string(k) }

// NewRing is a ring of one fresh random key under id, active.
func NewRing(id string) Ring {
	return Ring{Active: id, Keys: map[string][]byte{id: NewKey()}}
}

// NewKey is KeyBytes from crypto/rand.
func NewKey() []byte {
	k := make([]byte, KeyBytes)
	_, _ = rand.Read(k) // crypto/rand.Read never fails on Linux
	return k
}

// ForTest are Keys of fresh rings of the given kinds from a Static
// source (returned too, to rotate), for unit tests that build functions
// without a stack.
func ForTest(kinds ...Kind) (*Keys, *Static) {
	rings := map[Kind]Ring{}
	for _, k := range kinds {
		rings[k] = NewRing(string(k) + "1")
	}
	src := NewStatic(rings)
	keys, err := Load(context.Background(), src, kinds, nil)
	if err != nil {
		panic(err) // a Static of these rings always loads
	}
	return keys, src
}
