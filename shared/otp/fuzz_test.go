package otp

import (
	"strings"
	"testing"

	"github.com/pccc/pccc/shared/apperr"
)

// checkRefusal fails unless err is a 400 on field with one of the fixed
// problem texts, which therefore cannot echo the input.
func checkRefusal(t *testing.T, err error, field string, texts ...string) {
	t.Helper()
	e := apperr.As(err)
	if e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Message != "The request has invalid fields." {
		t.Fatalf("error %v is not a 400", err)
	}
	p, ok := e.Fields[field]
	if !ok {
		t.Fatalf("error %v does not name %s", err, field)
	}
	for _, want := range texts {
		if p == want {
			return
		}
	}
	t.Fatalf("unexpected problem text %q", p)
}

// FuzzParsePhone: never panics; an accepted number is 10-11 digits with a
// mobile prefix that parses to itself and masks to its last four digits; a
// refusal is a fixed text.
func FuzzParsePhone(f *testing.F) {
	for _, s := range []string{"01012345678", "010-1234-5678", "011 123 4567", "02-123-4567", "", "-", "0101234567890",
		"+821012345678", "010\x001234", "０１０"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParsePhone(s)
		if err != nil {
			checkRefusal(t, err, "phone", msgPhone)
			return
		}
		if len(d) < 10 || len(d) > 11 || strings.Trim(d, "0123456789") != "" || !strings.HasPrefix(d, "01") {
			t.Fatalf("accepted %q", d)
		}
		if again, err := ParsePhone(d); err != nil || again != d {
			t.Fatalf("round trip %q -> %q, %v", d, again, err)
		}
		// The mask keeps the prefix and last four digits and hides the rest.
		m := MaskPhone(d)
		parts := strings.Split(m, "-")
		if len(parts) != 3 || parts[0] != d[:3] || parts[2] != d[len(d)-4:] ||
			len(parts[1]) != len(d)-7 || strings.Trim(parts[1], "*") != "" {
			t.Fatalf("mask %q of %q", m, d)
		}
	})
}

// FuzzParseBirthDate: never panics; an accepted date is returned unchanged
// and parses again; a refusal is a fixed text.
func FuzzParseBirthDate(f *testing.F) {
	for _, s := range []string{"19900101", "20000229", "19000229", "20261123", "99999999", "", "1990-01-01", "1990010\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseBirthDateAt(s, now)
		if err != nil {
			checkRefusal(t, err, "birthDate", msgBirthDate, msgBirthFut)
			return
		}
		if got != s || len(got) != 8 {
			t.Fatalf("accepted %q as %q", s, got)
		}
		if again, err := ParseBirthDateAt(got, now); err != nil || again != got {
			t.Fatalf("round trip %q -> %q, %v", got, again, err)
		}
	})
}

// FuzzParseCarrier: never panics; only the six carriers are accepted, as
// themselves; a refusal is a fixed text.
func FuzzParseCarrier(f *testing.F) {
	for _, s := range append([]string{"", "skt", "LGU+", "SKT\x00"}, Carriers...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseCarrier(s)
		if err != nil {
			checkRefusal(t, err, "carrier", msgCarrier)
			return
		}
		if got != s {
			t.Fatalf("accepted %q as %q", s, got)
		}
		if _, err := ParseCarrier(got); err != nil {
			t.Fatalf("round trip %q: %v", got, err)
		}
	})
}
