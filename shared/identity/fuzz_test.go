package identity

import (
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

// FuzzParseRRN: never panics; an accepted number is 13 digits with a real,
// past birth date in the century its G digit names; a rejection is a 400 on
// rrn with one of the fixed problem texts, so it never echoes the input.
func FuzzParseRRN(f *testing.F) {
	for _, s := range []string{
		"900101-1234568", "9001011234568", "000229-3000000", "000229-1000000", "991231-9000000",
		"880412-5123456", "261201-4000000", "261202-4000000", "990231-1234567", "", "-", "12345",
		"900101-A234567", " 900101-1234568 ", "９００１０１-１２３４５６８", "900101\x00123456",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRRNAt(s, now)
		if err != nil {
			e := apperr.As(err)
			if e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Message != "The request has invalid fields." {
				t.Fatalf("error %v is not a 400 on rrn", err)
			}
			// Fixed texts only, so the input cannot be in them.
			switch e.Fields["rrn"] {
			case msgRRNFormat, msgRRNDate, msgRRNFuture:
			default:
				t.Fatalf("unexpected problem text %q", e.Fields["rrn"])
			}
			return
		}
		d := r.Digits()
		if len(d) != 13 || strings.Trim(d, "0123456789") != "" {
			t.Fatalf("digits %q", d)
		}
		if d != strings.ReplaceAll(strings.TrimSpace(s), "-", "") {
			t.Fatalf("digits %q do not come from %q", d, s)
		}
		born, err := time.Parse("20060102", r.BirthDate())
		if err != nil || born.Format("060102") != d[:6] || born.After(now) {
			t.Fatalf("birth date %q for %q", r.BirthDate(), d)
		}
		if born.Year()/100*100 != centuryOf(d[6]) {
			t.Fatalf("century of %q", d)
		}
		again, err := ParseRRNAt(d, now)
		if err != nil || !again.Equal(r) {
			t.Fatalf("the digits do not parse back: %v", err)
		}
		if strings.Contains(r.String(), d[6:]) {
			t.Fatal("String shows digits")
		}
	})
}

// FuzzNormalizeName: never panics; an accepted name is idempotent, at most
// MaxNameRunes, has a letter, no leading/trailing/double spaces, no lower
// case; a rejection is a 400 on name with one of the fixed problem texts,
// so it cannot echo the input.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{
		"HONG GILDONG", "  hong   gildong ", "홍길동", "\u1112\u1169\u11bc", "ＳＭＩＴＨ　ｊｏｈｎ",
		"Jean-Luc O'Neil Jr.", "", " ", " : T", "HONG 2", "\xff", "- .", strings.Repeat("가", 101), "a\u0301",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeName(s)
		if err != nil {
			e := apperr.As(err)
			if e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Message != "The request has invalid fields." {
				t.Fatalf("error %v is not a 400 on name", err)
			}
			// Fixed texts only, so the input cannot be in them.
			switch e.Fields["name"] {
			case msgNameRequired, msgNameChars, msgNameLetter, msgNameLong, msgNameUTF8:
			default:
				t.Fatalf("unexpected problem text %q", e.Fields["name"])
			}
			return
		}
		if again, err := NormalizeName(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q (%v)", got, again, err)
		}
		if n := len([]rune(got)); n == 0 || n > MaxNameRunes {
			t.Fatalf("length %d", n)
		}
		if strings.TrimSpace(got) != got || strings.Contains(got, "  ") || strings.ToUpper(got) != got {
			t.Fatalf("not normal: %q", got)
		}
		if NameKey(got) == "" || strings.ContainsAny(NameKey(got), " -.'") {
			t.Fatalf("key %q of %q", NameKey(got), got)
		}
	})
}
