// Package keyhash makes keyed hashes (HMAC-SHA256) of values we must find
// again but must not keep: registration numbers, client addresses. Each use
// names a purpose, so the same value hashed for two purposes gives two
// unrelated hashes.
package keyhash

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// Hasher hashes under one secret key.
type Hasher struct{ key []byte }

// New returns a Hasher; the key must be secret and at least 32 bytes
// (config enforces that).
func New(key []byte) *Hasher { return &Hasher{key: append([]byte(nil), key...)} }

// Sum returns the hex HMAC of value for a purpose such as "holder".
func (h *Hasher) Sum(purpose, value string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}
