package identity

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pccc/pccc/shared/apperr"
)

// MaxNameRunes bounds a normalised name.
const MaxNameRunes = 100

// maxNameInputBytes bounds the raw input before any work is done on it; a
// name of 100 Hangul syllables padded with generous spacing fits easily.
const maxNameInputBytes = 1024

// Client-safe problems; none echoes the input.
const (
	msgNameRequired = "is required"
	msgNameChars    = "may contain only Hangul or Latin letters, spaces, hyphens, apostrophes and dots"
	msgNameLetter   = "must contain a letter"
	msgNameLong     = "must be at most 100 characters"
	msgNameUTF8     = "must be valid UTF-8 text"
)

// NormalizeName returns a name the way the national system keeps it:
// surrounding space trimmed, runs of white space folded to one space, Latin
// letters in capitals (alien registration cards print names in capitals).
//
// Accepted: Hangul syllables (conjoining jamo, as some keyboards send them,
// are composed first), ASCII Latin letters (full-width forms are folded to
// ASCII), spaces, and the hyphen, apostrophe and dot that appear in
// romanised names. Rejected: digits, control characters, other scripts and
// symbols, a name without a letter, and more than MaxNameRunes characters.
// Registration cards and passports carry names in exactly these characters,
// so anything else is a typing mistake we can name rather than a bureau
// mismatch we cannot explain.
//
// Two names are compared with NameKey, which also drops spaces and
// punctuation.
func NormalizeName(s string) (string, error) {
	if len(s) > maxNameInputBytes {
		return "", apperr.InvalidField("name", msgNameLong)
	}
	if !utf8.ValidString(s) {
		return "", apperr.InvalidField("name", msgNameUTF8)
	}
	s = composeHangul(s)
	var b strings.Builder
	b.Grow(len(s))
	pendingSpace, letters, runes := false, 0, 0
	for _, r := range s {
		if r >= 0xFF01 && r <= 0xFF5E {
			r -= 0xFEE0 // full-width ASCII to ASCII
		}
		switch {
		case unicode.IsSpace(r):
			pendingSpace = runes > 0
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
			letters++
		case r >= 'A' && r <= 'Z', isHangulSyllable(r):
			letters++
		case r == '-', r == '\'', r == '.':
		default:
			return "", apperr.InvalidField("name", msgNameChars)
		}
		if pendingSpace {
			b.WriteByte(' ')
			runes++
			pendingSpace = false
		}
		b.WriteRune(r)
		runes++
		if runes > MaxNameRunes {
			return "", apperr.InvalidField("name", msgNameLong)
		}
	}
	if runes == 0 {
		return "", apperr.InvalidField("name", msgNameRequired)
	}
	if letters == 0 {
		return "", apperr.InvalidField("name", msgNameLetter)
	}
	return b.String(), nil
}

// NameKey is the form in which two normalised names are compared, and the
// form sent to the bureau: spaces, hyphens, apostrophes and dots removed.
// The national system accepts a foreigner's name with the spaces dropped
// ("SMITH JOHN" = "SMITHJOHN"), and romanisations differ in punctuation
// ("JEAN-LUC" = "JEAN LUC").
func NameKey(normalized string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '\'', '.':
			return -1
		}
		return r
	}, normalized)
}

func isHangulSyllable(r rune) bool { return r >= 0xAC00 && r <= 0xD7A3 }

// Hangul composition constants (Unicode §3.12, "Conjoining Jamo Behavior").
const (
	hangulSBase  = 0xAC00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11A7
	hangulLCount = 19
	hangulVCount = 21
	hangulTCount = 28
)

// composeHangul composes conjoining jamo sequences (L V and L V T, as
// decomposed input sends them) into precomposed syllables, so the same name
// typed on two systems normalises to the same string. Other text passes
// through unchanged.
func composeHangul(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r >= 0x1100 && r <= 0x11FF }) {
		return s
	}
	in := []rune(s)
	out := make([]rune, 0, len(in))
	for i := 0; i < len(in); i++ {
		l := in[i] - hangulLBase
		if l < 0 || l >= hangulLCount || i+1 >= len(in) {
			out = append(out, in[i])
			continue
		}
		v := in[i+1] - hangulVBase
		if v < 0 || v >= hangulVCount {
			out = append(out, in[i])
			continue
		}
		syl := hangulSBase + (l*hangulVCount+v)*hangulTCount
		i++
		if i+1 < len(in) {
			if t := in[i+1] - hangulTBase; t > 0 && t < hangulTCount {
				syl += t
				i++
			}
		}
		out = append(out, syl)
	}
	return string(out)
}
