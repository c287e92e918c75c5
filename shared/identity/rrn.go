// Package identity owns who a person is to this system: resident and alien
// registration numbers (RRN / ARN), names as the national system compares
// them, and the real-name check that opens every verification (API.md step
// 1). It imports nothing from AWS: the bureau, the verification store and
// the throttle are interfaces defined here and adapted elsewhere.
package identity

import (
	"crypto/subtle"
	"log/slog"
	"strings"
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

// redacted is how an RRN shows in any text output.
const redacted = "RRN(redacted)"

// kst is Korea's civil time (no daylight saving), the calendar in which a
// birth date "in the future" is judged.
var kst = time.FixedZone("KST", 9*60*60)

// RRN is a parsed resident or alien registration number.
//
// It cannot be printed or logged by accident: String, GoString, LogValue and
// MarshalJSON all redact, and the digits sit behind a pointer so that even
// printing a struct that holds an RRN in an unexported field shows an
// address, not the number. Only Digits returns them, for hashing and for the
// bureau call.
type RRN struct{ p *rrnData }

type rrnData struct {
	digits string    // 13 ASCII digits
	birth  time.Time // midnight UTC of the birth date
}

// Client-safe problems; none echoes the input.
const (
	msgRRNFormat = "must be 13 digits, as YYMMDD-GNNNNNN"
	msgRRNDate   = "does not start with a real birth date"
	msgRRNFuture = "has a birth date in the future"
)

// ParseRRN parses a registration number as of now. See ParseRRNAt.
func ParseRRN(s string) (RRN, error) { return ParseRRNAt(s, time.Now()) }

// ParseRRNAt accepts YYMMDD-GNNNNNN with or without the dash (surrounding
// spaces ignored) and checks the format, that the date is a real calendar
// date in the century the G digit names, and that it is not after today in
// Korea. It never rejects on the old check digit: numbers issued since
// October 2020 have none and many real alien numbers fail it (DOMAIN.md).
func ParseRRNAt(s string, now time.Time) (RRN, error) {
	s = strings.TrimSpace(s)
	if len(s) == 14 && s[6] == '-' {
		s = s[:6] + s[7:]
	}
	if len(s) != 13 {
		return RRN{}, apperr.InvalidField("rrn", msgRRNFormat)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return RRN{}, apperr.InvalidField("rrn", msgRRNFormat)
		}
	}
	year := centuryOf(s[6]) + atoi2(s[0:2])
	month, day := atoi2(s[2:4]), atoi2(s[4:6])
	if month < 1 || month > 12 || day < 1 || day > 31 {
		return RRN{}, apperr.InvalidField("rrn", msgRRNDate)
	}
	birth := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	// time.Date normalises 31 April to 1 May; a changed month means no such day.
	if birth.Day() != day || int(birth.Month()) != month {
		return RRN{}, apperr.InvalidField("rrn", msgRRNDate)
	}
	y, m, d := now.In(kst).Date()
	if birth.After(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		return RRN{}, apperr.InvalidField("rrn", msgRRNFuture)
	}
	return RRN{p: &rrnData{digits: s, birth: birth}}, nil
}

// centuryOf maps the G digit to the century of birth: 9/0 the 1800s, 1/2
// and 5/6 the 1900s, 3/4 and 7/8 the 2000s.
func centuryOf(g byte) int {
	switch g {
	case '9', '0':
		return 1800
	case '1', '2', '5', '6':
		return 1900
	default:
		return 2000
	}
}

func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

// IsZero reports an RRN that was never parsed.
func (r RRN) IsZero() bool { return r.p == nil }

// Digits returns the 13 digits. Callers hash them or hand them to the
// bureau; they never store or log them.
func (r RRN) Digits() string {
	if r.p == nil {
		return ""
	}
	return r.p.digits
}

// Born returns the birth date at midnight UTC.
func (r RRN) Born() time.Time {
	if r.p == nil {
		return time.Time{}
	}
	return r.p.birth
}

// BirthDate returns the birth date as YYYYMMDD, the form carriers and API.md
// step 2 use.
func (r RRN) BirthDate() string {
	if r.p == nil {
		return ""
	}
	return r.p.birth.Format("20060102")
}

// Sex returns "M" or "F": odd G digits are male, even female, and 9 / 0 are
// male / female for the 1800s.
func (r RRN) Sex() string {
	if r.p == nil {
		return ""
	}
	if (r.p.digits[6]-'0')%2 == 1 {
		return "M"
	}
	return "F"
}

// Foreigner reports an alien registration number (G digit 5 to 8).
func (r RRN) Foreigner() bool {
	return r.p != nil && r.p.digits[6] >= '5' && r.p.digits[6] <= '8'
}

// ChecksumValid reports whether the pre-2020 check digit holds. Information
// only: it is no reason to reject a number and no proof of identity.
func (r RRN) ChecksumValid() bool {
	if r.p == nil {
		return false
	}
	return checkDigit(r.p.digits[:12]) == r.p.digits[12]
}

// checkDigit computes the pre-2020 check digit of the first 12 digits.
func checkDigit(first12 string) byte {
	weights := [12]int{2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5}
	sum := 0
	for i, w := range weights {
		sum += int(first12[i]-'0') * w
	}
	return byte('0' + (11-sum%11)%10)
}

// Equal compares two numbers in constant time.
func (r RRN) Equal(o RRN) bool {
	return subtle.ConstantTimeCompare([]byte(r.Digits()), []byte(o.Digits())) == 1
}

// String redacts.
func (RRN) String() string { return redacted }

// GoString redacts, for %#v.
func (RRN) GoString() string { return redacted }

// LogValue redacts, for log/slog.
func (RRN) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON redacts: nothing should ever serialise an RRN as a whole.
func (RRN) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
