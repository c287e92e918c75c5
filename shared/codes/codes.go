// Package codes owns the personal customs clearance code itself: "P" and
// twelve digits, the last a Damm check digit of ours, so a mistyped code is
// refused before any lookup.
//
// Damm's check digit catches every single-digit error and every swap of two
// neighbouring digits, the two mistakes people make copying a number off a
// waybill, and needs no weights (unlike the registration-number formula).
// Codes issued by the national system carry their own check digit, whose
// algorithm is not published; Format accepts them, Valid does not.
package codes

import (
	"crypto/rand"
	"errors"
	"io"

	"github.com/pccc/pccc/shared/apperr"
)

// Length is the number of digits after the "P".
const Length = 12

// quasigroup is a totally anti-symmetric quasigroup of order 10 (H. M.
// Damm, 2004): row = running check, column = next digit.
var quasigroup = [10][10]byte{
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
	{7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
	{1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
	{3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
	{8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
	{2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}

// CheckDigit returns the Damm check digit of a string of ASCII digits.
// It panics on anything else; callers pass digits they produced or checked.
func CheckDigit(digits string) byte {
	var c byte
	for i := 0; i < len(digits); i++ {
		d := digits[i] - '0'
		if d > 9 {
			panic("codes: CheckDigit of a non-digit")
		}
		c = quasigroup[c][d]
	}
	return '0' + c
}

// New returns a fresh code: eleven digits uniform from r (crypto/rand's
// reader in production) and the check digit.
func New(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	out := make([]byte, 1, 1+Length)
	out[0] = 'P'
	var buf [16]byte
	for len(out) < Length {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", errors.Join(errors.New("codes: random source"), err)
		}
		for _, b := range buf {
			// 250 is the largest multiple of 10 below 256: rejecting the
			// rest keeps every digit equally likely.
			if b < 250 && len(out) < Length {
				out = append(out, '0'+b%10)
			}
		}
	}
	return string(out) + string(CheckDigit(string(out[1:]))), nil
}

// Format reports whether s has the shape of any clearance code, ours or the
// national system's: "P" and twelve ASCII digits.
func Format(s string) bool {
	if len(s) != 1+Length || s[0] != 'P' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Valid reports whether s is shaped like a code and its check digit is
// right: a code this system could have issued.
func Valid(s string) bool {
	return Format(s) && CheckDigit(s[1:Length]) == s[Length]
}

// Messages name the problem without repeating the input.
const (
	msgFormat = "must be P followed by 12 digits"
	msgCheck  = "has a wrong check digit; please check it for a typing mistake"
)

// Parse reads a code as a person types it: surrounding spaces and a lower
// case "p" are forgiven, anything else is a 400 on field.
func Parse(field, s string) (string, error) {
	if len(s) > 64 {
		return "", apperr.InvalidField(field, msgFormat)
	}
	b := []byte(s)
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && b[0] == 'p' {
		b[0] = 'P'
	}
	c := string(b)
	if !Format(c) {
		return "", apperr.InvalidField(field, msgFormat)
	}
	if !Valid(c) {
		return "", apperr.InvalidField(field, msgCheck)
	}
	return c, nil
}
