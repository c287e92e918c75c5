// Package keyhash owns the keyed hash (HMAC-SHA256) that turns personal
// identifiers into stable lookup keys: a holder is found by the hash of their
// registration number, a client is throttled by the hash of their IP, and
// neither value is ever stored in clear.
//
// Every hash names a purpose. The purpose is mixed into the MAC input, so the
// same value hashed for two purposes gives unrelated keys: a rate-limit key
// cannot be joined to a holder key even though both come from one secret.
package keyhash

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
)

// MinKeyBytes is the shortest key accepted; shorter keys would make the
// hashes of short identifiers (13 digits) practical to brute-force.
const MinKeyBytes = 32

// Hasher computes purpose-separated keyed hashes. It is safe for concurrent
// use.
type Hasher struct {
	key []byte
}

// New returns a Hasher keyed with key, which must be at least MinKeyBytes.
func New(key []byte) (*Hasher, error) {
	if len(key) < MinKeyBytes {
		return nil, errors.New("keyhash: key must be at least 32 bytes")
	}
	return &Hasher{key: append([]byte(nil), key...)}, nil
}

// Sum returns the lowercase hex HMAC-SHA256 of value under purpose. The
// purpose is length-prefixed so that no (purpose, value) pair can collide
// with another by moving bytes across the boundary.
func (h *Hasher) Sum(purpose, value string) string {
	m := hmac.New(sha256.New, h.key)
	var n [binary.MaxVarintLen64]byte
	m.Write(n[:binary.PutUvarint(n[:], uint64(len(purpose)))])
	m.Write([]byte(purpose))
	m.Write([]byte(value))
	return hex.EncodeToString(m.Sum(nil))
}
