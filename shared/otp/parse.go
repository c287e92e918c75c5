package otp

import (
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

// Client-safe problems; none echoes the input.
const (
	msgPhone     = "must be a Korean mobile number of 10-11 digits (010, 011, 016, 017, 018 or 019)"
	msgBirthDate = "must be a real date as YYYYMMDD"
	msgBirthFut  = "must not be in the future"
	msgSex       = "must be M or F"
	msgCarrier   = "must be one of SKT, KT, LGU, SKT_MVNO, KT_MVNO, LGU_MVNO"
)

// maxPhoneInput bounds the raw phone input before any work is done on it;
// eleven digits with generous separators fit easily.
const maxPhoneInput = 32

// kst is Korea's civil time, the calendar in which "in the future" is
// judged (as for registration numbers).
var kst = time.FixedZone("KST", 9*60*60)

// Carriers are the mobile carriers of API.md step 2, in its order.
var Carriers = []string{"SKT", "KT", "LGU", "SKT_MVNO", "KT_MVNO", "LGU_MVNO"}

// ParsePhone accepts a Korean mobile number (010, 011, 016, 017, 018 or 019
// and 10 or 11 digits in all), with dashes or spaces anywhere, and returns
// its digits. Errors are a 400 on "phone" that never repeat the input.
func ParsePhone(s string) (string, error) {
	if len(s) > maxPhoneInput {
		return "", apperr.InvalidField("phone", msgPhone)
	}
	var d [maxPhoneInput]byte
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '-' || c == ' ':
		case c >= '0' && c <= '9':
			d[n] = c
			n++
		default:
			return "", apperr.InvalidField("phone", msgPhone)
		}
	}
	if n < 10 || n > 11 || d[0] != '0' || d[1] != '1' {
		return "", apperr.InvalidField("phone", msgPhone)
	}
	switch d[2] {
	case '0', '1', '6', '7', '8', '9':
	default:
		return "", apperr.InvalidField("phone", msgPhone)
	}
	return string(d[:n]), nil
}

// MaskPhone shows a parsed number the way API.md's "sentTo" does,
// 010-****-5678: enough for the person to recognise their phone, too little
// to learn someone else's. Anything that is not 10-11 digits masks whole.
func MaskPhone(digits string) string {
	if len(digits) < 10 || len(digits) > 11 {
		return "***-****-****"
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return "***-****-****"
		}
	}
	middle := "****"
	if len(digits) == 10 {
		middle = "***"
	}
	return digits[:3] + "-" + middle + "-" + digits[len(digits)-4:]
}

// ParseBirthDate parses a birth date as of now. See ParseBirthDateAt.
func ParseBirthDate(s string) (string, error) { return ParseBirthDateAt(s, time.Now()) }

// ParseBirthDateAt accepts exactly eight digits YYYYMMDD naming a real
// calendar date from 1900 on and not after today in Korea, and returns it
// unchanged. Errors are a 400 on "birthDate".
func ParseBirthDateAt(s string, now time.Time) (string, error) {
	if len(s) != 8 {
		return "", apperr.InvalidField("birthDate", msgBirthDate)
	}
	n := [8]int{}
	for i := 0; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", apperr.InvalidField("birthDate", msgBirthDate)
		}
		n[i] = int(s[i] - '0')
	}
	year := n[0]*1000 + n[1]*100 + n[2]*10 + n[3]
	month, day := n[4]*10+n[5], n[6]*10+n[7]
	if year < 1900 || month < 1 || month > 12 || day < 1 || day > 31 {
		return "", apperr.InvalidField("birthDate", msgBirthDate)
	}
	birth := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	// time.Date normalises 31 April to 1 May; a changed day means no such date.
	if birth.Day() != day || int(birth.Month()) != month {
		return "", apperr.InvalidField("birthDate", msgBirthDate)
	}
	y, m, d := now.In(kst).Date()
	if birth.After(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)) {
		return "", apperr.InvalidField("birthDate", msgBirthFut)
	}
	return s, nil
}

// ParseSex accepts exactly "M" or "F", the carriers' codes.
func ParseSex(s string) (string, error) {
	if s != "M" && s != "F" {
		return "", apperr.InvalidField("sex", msgSex)
	}
	return s, nil
}

// ParseCarrier accepts exactly one of Carriers. There is no case folding:
// the values are an enumeration of the API, not free text.
func ParseCarrier(s string) (string, error) {
	for _, c := range Carriers {
		if s == c {
			return c, nil
		}
	}
	return "", apperr.InvalidField("carrier", msgCarrier)
}
