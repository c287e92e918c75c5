// Package otp owns the one-time codes of the SMS step (API.md, identity
// verification steps 2 and 3) as NIST SP 800-63B and OWASP ASVS want them
// (DOMAIN.md, "One-time codes"): six digits from a cryptographic generator,
// stored only as a keyed hash bound to the verification, single use, short
// lived, with a failure budget that a resend does not refill, and send
// throttles. It also parses the step-2 input (phone, birth date, sex,
// carrier) into canonical form.
//
// Everything here is pure: no AWS, no clock of its own, no I/O beyond the
// random generator. The routes load a Challenge, let it decide, and write it
// back with a conditional update.
package otp

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"strconv"
)

// Digits is the length of a code. NIST SP 800-63B asks for at least six.
const Digits = 6

// codeSpace is the number of distinct codes, 10^Digits.
const codeSpace = 1_000_000

// rejectFrom is the largest multiple of codeSpace that fits in a uint32.
// Draws at or above it are discarded, so every code is exactly as likely
// (a plain modulo would favour the low codes slightly).
const rejectFrom = (1 << 32) / codeSpace * codeSpace

// HashPurpose is the keyhash purpose of code hashes, so that a code hash
// can never equal any other keyed hash the system stores.
const HashPurpose = "otp-code"

// Hasher is the keyed hash (shared/keyhash.Hasher satisfies it).
type Hasher interface {
	Sum(purpose, value string) string
}

// random is the generator's byte source; tests replace it.
var random = rand.Read

// Generate returns a fresh code of Digits decimal digits, uniformly
// distributed, from crypto/rand.
func Generate() (string, error) {
	var b [4]byte
	for {
		if _, err := random(b[:]); err != nil {
			return "", err
		}
		if n := binary.BigEndian.Uint32(b[:]); n < rejectFrom {
			return pad(n % codeSpace), nil
		}
	}
}

// pad renders n with leading zeros to Digits digits.
func pad(n uint32) string {
	var out [Digits]byte
	for i := Digits - 1; i >= 0; i-- {
		out[i] = byte('0' + n%10)
		n /= 10
	}
	return string(out[:])
}

// Hash returns the keyed hash stored in place of a code. The verification
// id is part of the input, so a code (or its hash) from one verification is
// worthless in another, and the id is length-prefixed so that no two
// (id, code) pairs give the same input.
func Hash(h Hasher, verificationID, code string) string {
	return h.Sum(HashPurpose, strconv.Itoa(len(verificationID))+":"+verificationID+code)
}

// Matches reports whether code is the one whose hash is stored. The
// comparison takes the same time wherever the hashes differ, and a
// malformed code is hashed all the same, so timing tells a guesser nothing
// (ASVS 5.0 6.3.8). The caller should call it even when the challenge has
// expired or is locked, for the same reason, and pass the result to Check.
func Matches(h Hasher, verificationID, code, storedHash string) bool {
	got := Hash(h, verificationID, code)
	same := subtle.ConstantTimeCompare([]byte(got), []byte(storedHash))
	wellFormed := 0
	if validCode(code) && storedHash != "" {
		wellFormed = 1
	}
	return same&wellFormed == 1
}

// validCode reports whether s is Digits ASCII digits.
func validCode(s string) bool {
	if len(s) != Digits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
