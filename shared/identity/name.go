package identity

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pccc/pccc/shared/apperr"
)

// MaxNameRunes bounds a name; the longest real names are far shorter.
const MaxNameRunes = 100

// NormalizeName returns a name as the national system compares it: trimmed,
// runs of white space folded to one space, Latin letters in capitals (alien
// registration cards print names in capitals). Letters of any script, spaces,
// hyphens, apostrophes and dots are allowed; digits and control characters
// are not.
func NormalizeName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", apperr.InvalidField("name", "must be valid UTF-8 text")
	}
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return "", apperr.InvalidField("name", "is required")
	}
	out := strings.ToUpper(strings.Join(fields, " "))
	if utf8.RuneCountInString(out) > MaxNameRunes {
		return "", apperr.InvalidField("name", "must be at most 100 characters")
	}
	for _, r := range out {
		switch {
		case unicode.IsLetter(r), unicode.Is(unicode.Mn, r), r == ' ', r == '-', r == '\'', r == '.':
		default:
			return "", apperr.InvalidField("name", "may hold only letters, spaces, hyphens, apostrophes and dots")
		}
	}
	return out, nil
}

// NameKey is the form two names are compared in: normalised with the spaces
// removed, because the national system accepts a foreigner's name with the
// spaces dropped ("SMITH JOHN" and "SMITHJOHN" are the same person).
func NameKey(normalized string) string {
	return strings.ReplaceAll(normalized, " ", "")
}
