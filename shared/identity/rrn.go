// Package identity owns who a person is to this system: resident and alien
// registration numbers, names as the national system compares them, and the
// real-name check that starts every verification. It has no AWS imports; the
// bureau, the store and the throttle are interfaces defined here and adapted
// elsewhere.
package identity

import (
	"crypto/subtle"
	"log/slog"
	"strings"
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

// RRN is a parsed resident (or alien) registration number. It never prints
// or logs its digits: String, GoString and LogValue all redact.
type RRN struct {
	digits string // 13 ASCII digits
	birth  time.Time
}

// ParseRRN accepts YYMMDD-GNNNNNN with or without the dash. It checks the
// format, the G digit and that the date is real and not in the future. It
// never rejects on the old checksum: numbers issued since October 2020 have
// none, and many real alien numbers fail it (DOMAIN.md).
func ParseRRN(s string, now time.Time) (RRN, error) {
	s = strings.TrimSpace(s)
	if len(s) == 14 && s[6] == '-' {
		s = s[:6] + s[7:]
	}
	if len(s) != 13 {
		return RRN{}, apperr.InvalidField("rrn", "must be 13 digits, as YYMMDD-GNNNNNN")
	}
	for i := 0; i < 13; i++ {
		if s[i] < '0' || s[i] > '9' {
			return RRN{}, apperr.InvalidField("rrn", "must be 13 digits, as YYMMDD-GNNNNNN")
		}
	}
	century := 0
	switch s[6] {
	case '9', '0':
		century = 1800
	case '1', '2', '5', '6':
		century = 1900
	case '3', '4', '7', '8':
		century = 2000
	}
	yy := int(s[0]-'0')*10 + int(s[1]-'0')
	mm := int(s[2]-'0')*10 + int(s[3]-'0')
	dd := int(s[4]-'0')*10 + int(s[5]-'0')
	birth := time.Date(century+yy, time.Month(mm), dd, 0, 0, 0, 0, time.UTC)
	if mm < 1 || mm > 12 || dd < 1 || birth.Day() != dd || birth.Month() != time.Month(mm) {
		return RRN{}, apperr.InvalidField("rrn", "does not start with a real birth date")
	}
	if birth.After(now) {
		return RRN{}, apperr.InvalidField("rrn", "has a birth date in the future")
	}
	return RRN{digits: s, birth: birth}, nil
}

// Digits returns the 13 digits. Callers hash them; they never store or log
// them.
func (r RRN) Digits() string { return r.digits }

// BirthDate returns the birth date as YYYYMMDD.
func (r RRN) BirthDate() string { return r.birth.Format("20060102") }

// Sex returns "M" or "F" from the G digit (odd male, even female; 9 male
// and 0 female for the 1800s).
func (r RRN) Sex() string {
	if (r.digits[6]-'0')%2 == 1 {
		return "M"
	}
	return "F"
}

// Foreigner reports an alien registration number (G digit 5 to 8).
func (r RRN) Foreigner() bool { return r.digits[6] >= '5' && r.digits[6] <= '8' }

// ChecksumValid reports whether the old check digit holds. Information only:
// it is no reason to reject a number and no proof of identity.
func (r RRN) ChecksumValid() bool {
	weights := [12]int{2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5}
	sum := 0
	for i, w := range weights {
		sum += int(r.digits[i]-'0') * w
	}
	return (11-sum%11)%10 == int(r.digits[12]-'0')
}

// Equal compares two numbers in constant time.
func (r RRN) Equal(o RRN) bool {
	return subtle.ConstantTimeCompare([]byte(r.digits), []byte(o.digits)) == 1
}

func (RRN) String() string               { return "RRN(redacted)" }
func (RRN) GoString() string             { return "RRN(redacted)" }
func (RRN) LogValue() slog.Value         { return slog.StringValue("RRN(redacted)") }
func (RRN) MarshalJSON() ([]byte, error) { return []byte(`"RRN(redacted)"`), nil }
