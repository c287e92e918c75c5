// Package clearance owns the rules of the clearance check that brokers and
// shops make before a shipment clears: a code, a name, a mobile number and
// a delivery zip either all belong to one holder whose code is live, or the
// check is a mismatch. It says no more than that: not which field failed,
// not whether the code exists, so a guesser learns nothing from an answer
// (DOMAIN.md, "Verification at clearance").
//
// No AWS imports: the reads, the throttles and the records are
// shared/clearanceapi's.
package clearance

import (
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/otp"
)

// Results of a check, as the API answers them.
const (
	Match    = "match"
	Mismatch = "mismatch"
)

// Query is a check as asked, each field normalised the way the holder's
// registered value is, so the two compare as equal strings.
type Query struct {
	Code string
	// Name is identity.NameKey of the normalised name: capitals, no spaces
	// or punctuation, Hangul composed.
	Name  string
	Phone string // digits only
	// Zip is the 5-digit zip; an old 6-digit zip is kept as its 6 digits,
	// which no registered zip equals (there is no old-to-new table).
	Zip string
}

// Messages name the problem without repeating the input.
const (
	msgRequired = "is required"
	msgCode     = "must be P followed by 12 digits"
	msgZip      = "must be a 5-digit postal code (the old 6-digit form 123-456 is accepted but never matches)"
)

// Input is a check's fields as sent; nil means missing.
type Input struct {
	Code, Name, Phone, Zip *string
}

// Parse checks and normalises a check's fields. Every bad field is named
// in one 400; none of the messages repeats the input.
//
// The code must have the shape of any code (P and 12 digits); its check
// digit is not checked, because a code with a wrong check digit is just an
// unknown code and must get the same answer as any other.
func Parse(in Input) (Query, error) {
	bad := map[string]string{}
	var q Query
	if in.Code == nil {
		bad["code"] = msgRequired
	} else if codes.Format(*in.Code) {
		q.Code = *in.Code
	} else {
		bad["code"] = msgCode
	}
	if in.Name == nil {
		bad["name"] = msgRequired
	} else if n, err := identity.NormalizeName(*in.Name); err == nil {
		q.Name = identity.NameKey(n)
	} else {
		bad["name"] = apperr.As(err).Fields["name"]
	}
	if in.Phone == nil {
		bad["phone"] = msgRequired
	} else if p, err := otp.ParsePhone(*in.Phone); err == nil {
		q.Phone = p
	} else {
		bad["phone"] = apperr.As(err).Fields["phone"]
	}
	if in.Zip == nil {
		bad["zip"] = msgRequired
	} else if z, ok := ParseZip(*in.Zip); ok {
		q.Zip = z
	} else {
		bad["zip"] = msgZip
	}
	if len(bad) > 0 {
		return Query{}, apperr.InvalidFields(bad)
	}
	return q, nil
}

// ParseZip accepts a 5-digit zip (in use since 2015) and the old 6-digit
// form, "123-456" or "123456", which it returns as its 6 digits. No table
// maps old zips to new ones here, so an old zip never matches a registered
// (5-digit) one; it is accepted rather than refused so the answer is a
// mismatch like any other wrong zip.
func ParseZip(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) == 7 && s[3] == '-' {
		s = s[:3] + s[4:]
	}
	if len(s) != 5 && len(s) != 6 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

// Standing is what the table says of the code and its holder.
type Standing struct {
	CodeFound    bool
	CodeLive     bool   // the code item says live (not retired by a reissue or cancellation)
	CodeOwner    string // the holder key the code item names
	HolderFound  bool
	HolderKey    string
	HolderCode   string // the holder's current code
	HolderStatus holder.Status
	ExpiresAt    time.Time
}

// Live reports whether code may clear now: the code item is live and
// names this holder, the holder's current code is this one, the holder is
// active (not suspended, cancelled or expired) and the code has not passed
// its expiry (the daily job may not have caught up yet). Every condition
// is evaluated, whatever the first one says.
func (s Standing) Live(code string, now time.Time) bool {
	ok := s.CodeFound
	ok = s.CodeLive && ok
	ok = s.HolderFound && ok
	ok = s.CodeOwner != "" && s.CodeOwner == s.HolderKey && ok
	ok = s.HolderCode == code && ok
	ok = s.HolderStatus == holder.Active && ok
	ok = now.Before(s.ExpiresAt) && ok
	return ok
}

// Registered is what a holder registered, opened and normalised like a
// Query: names as identity.NameKey, the phone as digits, zips as 5 digits.
type Registered struct {
	Names []string // the Korean and the English name, when registered
	Phone string
	Zips  []string
}

// RegisteredOf normalises a holder's details for comparison.
func RegisteredOf(d holder.Details) Registered {
	var r Registered
	for _, n := range []string{d.KoreanName, d.EnglishName} {
		if n == "" {
			continue
		}
		if norm, err := identity.NormalizeName(n); err == nil {
			r.Names = append(r.Names, identity.NameKey(norm))
		}
	}
	// Stored phones are digits already (otp.ParsePhone at issue and update);
	// parsing again keeps the comparison honest if that ever changes.
	if p, err := otp.ParsePhone(d.Phone); err == nil {
		r.Phone = p
	}
	for _, a := range d.Addresses {
		if z, ok := ParseZip(a.Zip); ok {
			r.Zips = append(r.Zips, z)
		}
	}
	return r
}

// slots is how many values of a kind are compared on every check, filled
// up with values no query can equal, so the work does not depend on how
// many names or addresses a holder registered.
const (
	nameSlots = 2
	zipSlots  = holder.MaxAddresses
)

// Judge returns Match only when the code is live and every field matches:
// the name either registered name, the phone, the zip any registered
// address. Every field is compared, in constant time over SHA-256 digests
// (so neither content nor length shows in the timing), whatever the others
// gave.
func Judge(q Query, live bool, r Registered) string {
	name := 0
	for i := range nameSlots {
		name |= equal(q.Name, slot(r.Names, i))
	}
	phone := equal(q.Phone, orNever(r.Phone))
	zip := 0
	for i := range zipSlots {
		zip |= equal(q.Zip, slot(r.Zips, i))
	}
	alive := 0
	if live {
		alive = 1
	}
	if alive&name&phone&zip == 1 {
		return Match
	}
	return Mismatch
}

// never is a value no normalised query field can take (they hold no
// control characters), standing in for a missing registered value.
const never = "\x00never"

func slot(list []string, i int) string {
	if i < len(list) {
		return orNever(list[i])
	}
	return never
}

func orNever(s string) string {
	if s == "" {
		return never
	}
	return s
}

func equal(a, b string) int {
	da, db := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(da[:], db[:])
}
