// Package sealer encrypts personal fields at rest, one value at a time, with
// AES-256-GCM. Each sealed value names the key that sealed it, so keys can
// rotate: new values use the active key, old ones still open with theirs.
// The caller passes what the value is (record and field) as associated data,
// so a sealed value copied into another field or item does not open.
package sealer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// ErrOpen is returned for any value that does not open: tampered, moved,
// sealed under an unknown key, or malformed.
var ErrOpen = errors.New("sealer: value does not open")

// Sealer seals under the active key and opens under any key of the ring.
type Sealer struct {
	active string
	aeads  map[string]cipher.AEAD
}

// New builds a Sealer from 32-byte keys by id and the active id.
func New(keys map[string][]byte, active string) (*Sealer, error) {
	s := &Sealer{active: active, aeads: map[string]cipher.AEAD{}}
	for id, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("sealer: key %q is %d bytes, want 32", id, len(k))
		}
		if strings.ContainsAny(id, ".") || id == "" {
			return nil, fmt.Errorf("sealer: key id %q must be non-empty and hold no dot", id)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads[id] = aead
	}
	if _, ok := s.aeads[active]; !ok {
		return nil, fmt.Errorf("sealer: active key %q is not in the ring", active)
	}
	return s, nil
}

// Seal encrypts plaintext bound to aad ("VER#id/identity", say). The result
// is "v1.<keyid>.<base64url(nonce|ciphertext)>".
func (s *Sealer) Seal(plaintext []byte, aad string) (string, error) {
	aead := s.aeads[s.active]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := aead.Seal(nonce, nonce, plaintext, []byte(aad))
	return "v1." + s.active + "." + base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed with the same aad.
func (s *Sealer) Open(sealed, aad string) ([]byte, error) {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return nil, ErrOpen
	}
	aead, ok := s.aeads[parts[1]]
	if !ok {
		return nil, ErrOpen
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	pt, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(aad))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}
