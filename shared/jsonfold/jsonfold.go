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
func Equal[Name ~string | ~[]byte](name Name, upper string) bool {
	if len(name) < len(upper) {
		// Every letter of upper is one byte, and each comes from at
		// least one byte of name.
		return false
	}
	j := 0
	for i := 0; i < len(name); j++ {
		if j == len(upper) {
			return false
		}
		r := rune(name[i])
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			i++
		} else {
			var size int
			r, size = utf8.DecodeRuneInString(string(name[i:min(i+utf8.UTFMax, len(name))]))
			r = least(r)
			i += size
		}
		if r != rune(upper[j]) {
			return false
		}
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

// Fields are a struct's field names, in order, for matching members to
// them as encoding/json does: an exact match first, then a folded one.
type Fields struct {
	exact  map[string]int
	folded []string
}

// NewFields is the fields named so (as in their json tags).
func NewFields(names ...string) *Fields {
	f := &Fields{exact: make(map[string]int, len(names))}
	for i, n := range names {
		f.exact[n] = i
		f.folded = append(f.folded, fold(n))
	}
	return f
}

// Index is the index of the field a member's name matches, or -1.
func Index[Name ~string | ~[]byte](f *Fields, name Name) int {
	if i, ok := f.exact[string(name)]; ok {
		return i
	}
	for i, u := range f.folded {
		if Equal(name, u) {
			return i
		}
	}
	return -1
}

// fold is an ASCII field name folded: its letters in upper case.
func fold(name string) string {
	b := []byte(name)
	for i, c := range b {
		if c >= utf8.RuneSelf {
			panic("jsonfold: a field name of ASCII only: " + name)
		}
		if 'a' <= c && c <= 'z' {
			b[i] = c - ('a' - 'A')
		}
	}
	return string(b)
}
