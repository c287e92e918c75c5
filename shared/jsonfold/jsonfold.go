// Package jsonfold matches a JSON object's member names to Go field names
// as encoding/json does when a name has no exact match: letter by letter,
// each folded to the least letter of its case-folding orbit
// (unicode.SimpleFold). So "Sub", "SUB" and "ſub" (with a long s) all
// name the field "sub", and "İd" does not name "id". Decoders written by hand
// for hot paths use it to read what encoding/json would.
package jsonfold

import (
	"unicode"
	"unicode/utf8"
)

// Equal reports whether name folds to upper, a field's name folded
// (upper-case ASCII: "ROUTEKEY" for routeKey).
func Equal(name, upper string) bool {
	if len(name) < len(upper) {
		// Every letter of upper is one byte, and each comes from at
		// least one byte of name.
		return false
	}
	j := 0
	for _, r := range name {
		if j == len(upper) {
			return false
		}
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
		} else {
			r = least(r)
		}
		if r != rune(upper[j]) {
			return false
		}
		j++
	}
	return j == len(upper)
}

// least is the least rune of r's case-folding orbit.
func least(r rune) rune {
	for {
		next := unicode.SimpleFold(r)
		if next <= r {
			return next
		}
		r = next
	}
}

// Index is the index in uppers of the name name folds to, or -1.
func Index(name string, uppers []string) int {
	for i, u := range uppers {
		if Equal(name, u) {
			return i
		}
	}
	return -1
}
