// Package sealer owns encryption of personal fields at rest (PIPA Art. 24-2
// requires registration numbers, and we choose names and birth dates too, to
// be stored encrypted).
//
// A sealed value is the compact string "v1.<keyID>.<base64url(nonce|ct)>":
// AES-256-GCM with a random 96-bit nonce under the key named in the string,
// so old values still open after the active key is rotated. The caller names
// where the value lives (for example "VER#<id>#identity") and that name is
// authenticated with it: a ciphertext copied into another field or item does
// not open.
package sealer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

const version = "v1"

// Errors Open returns; none carries any part of the value.
var (
	ErrMalformed  = errors.New("sealer: malformed sealed value")
	ErrUnknownKey = errors.New("sealer: sealed under an unknown key")
	ErrTampered   = errors.New("sealer: sealed value does not authenticate")
)

// Sealer seals and opens values with a key ring. Safe for concurrent use.
type Sealer struct {
	ring atomic.Pointer[ring]
	// refresh, when set, fetches the key ring again for a key id the
	// sealer does not have (a key added by rotation since the cold start).
	refresh func() (map[string][]byte, string, bool)
}

type ring struct {
	aeads  map[string]cipher.AEAD
	active string
}

// New builds a Sealer from 32-byte AES keys by key id; activeID names the key
// new values are sealed with. Key ids are short labels that may not contain
// '.' (the separator of the sealed form).
func New(keys map[string][]byte, activeID string) (*Sealer, error) {
	r, err := newRing(keys, activeID)
	if err != nil {
		return nil, err
	}
	s := &Sealer{}
	s.ring.Store(r)
	return s, nil
}

// SetRefresh makes the sealer ask f for the key ring again when a value
// names a key id it does not have: f returns the keys, the active id, and
// whether it fetched anything new (it limits how often it fetches). The
// ring it returns also becomes the one new values are sealed with; one
// that does not check out is ignored.
func (s *Sealer) SetRefresh(f func() (map[string][]byte, string, bool)) { s.refresh = f }

func newRing(keys map[string][]byte, activeID string) (*ring, error) {
	if len(keys) == 0 {
		return nil, errors.New("sealer: no keys")
	}
	s := &ring{aeads: make(map[string]cipher.AEAD, len(keys)), active: activeID}
	for id, k := range keys {
		if id == "" || strings.ContainsAny(id, ". ") {
			return nil, errors.New("sealer: key ids must be non-empty without '.' or spaces")
		}
		if len(k) != 32 {
			return nil, fmt.Errorf("sealer: key %s must be 32 bytes", id)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("sealer: key %s: %w", id, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("sealer: key %s: %w", id, err)
		}
		s.aeads[id] = aead
	}
	if _, ok := s.aeads[activeID]; !ok {
		return nil, errors.New("sealer: the active key id names no key")
	}
	return s, nil
}

// ActiveKeyID is the id new values are sealed with.
func (s *Sealer) ActiveKeyID() string { return s.ring.Load().active }

// Seal encrypts plaintext for the place named by aad.
func (s *Sealer) Seal(aad string, plaintext []byte) (string, error) {
	r := s.ring.Load()
	aead := r.aeads[r.active]
	buf := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(buf); err != nil {
		return "", fmt.Errorf("sealer: nonce: %w", err)
	}
	out := aead.Seal(buf, buf, plaintext, additionalData(r.active, aad))
	return version + "." + r.active + "." + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed for the place named by aad, with whichever
// key of the ring sealed it.
func (s *Sealer) Open(aad, sealed string) ([]byte, error) {
	ver, rest, ok := strings.Cut(sealed, ".")
	if !ok || ver != version {
		return nil, ErrMalformed
	}
	kid, enc, ok := strings.Cut(rest, ".")
	if !ok || kid == "" {
		return nil, ErrMalformed
	}
	aead, ok := s.ring.Load().aeads[kid]
	if !ok && s.refresh != nil {
		if keys, active, fresh := s.refresh(); fresh {
			if r, err := newRing(keys, active); err == nil {
				s.ring.Store(r)
				aead, ok = r.aeads[kid]
			}
		}
	}
	if !ok {
		return nil, ErrUnknownKey
	}
	// One buffer for the decoded value, the associated data and the
	// encoded text, and the plaintext opened in place: one allocation a
	// field (every lookup opens seven).
	size, al := base64.RawURLEncoding.DecodedLen(len(enc)), adLen(kid, aad)
	buf := make([]byte, size+al+len(enc))
	src := buf[size+al:]
	copy(src, enc)
	m, err := base64.RawURLEncoding.Decode(buf[:size], src)
	n := aead.NonceSize()
	if err != nil || m < n+aead.Overhead() {
		return nil, ErrMalformed
	}
	raw := buf[:m]
	ad := appendAD(buf[size:size], kid, aad)
	pt, err := aead.Open(raw[n:n], raw[:n], raw[n:], ad)
	if err != nil {
		return nil, ErrTampered
	}
	return pt, nil
}

// additionalData binds the format version and key id along with the
// caller's place, so neither can be edited in the stored string.
func additionalData(kid, aad string) []byte {
	return appendAD(make([]byte, 0, adLen(kid, aad)), kid, aad)
}

func adLen(kid, aad string) int { return len(version) + 1 + len(kid) + 1 + len(aad) }

func appendAD(b []byte, kid, aad string) []byte {
	b = append(b, version...)
	b = append(append(b, 0), kid...)
	return append(append(b, 0), aad...)
}
