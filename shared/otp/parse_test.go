package otp

import (
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

// now is a fixed "today" for date checks: 22 Nov 2026 in Korea.
var now = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

// fieldProblem returns the field and problem of a 400, failing otherwise.
func fieldProblem(t *testing.T, err error) (string, string) {
	t.Helper()
	e := apperr.As(err)
	if e.Code != apperr.Invalid || len(e.Fields) != 1 {
		t.Fatalf("error %v is not a 400 on one field", err)
	}
	for f, p := range e.Fields {
		return f, p
	}
	return "", ""
}

func TestParsePhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"01012345678", "01012345678"},
		{"010-1234-5678", "01012345678"},
		{"010 1234 5678", "01012345678"},
		{"011-123-4567", "0111234567"},
		{"0161234567", "0161234567"},
		{"017-1234-5678", "01712345678"},
		{"018-123-4567", "0181234567"},
		{"019-1234-5678", "01912345678"},
		{"01212345678", ""},      // 012 is not a mobile prefix
		{"02-1234-5678", ""},     // Seoul landline
		{"010123456", ""},        // 9 digits
		{"010123456789", ""},     // 12 digits
		{"+82-10-1234-5678", ""}, // international form not taken
		{"010.1234.5678", ""},    // dots
		{"０１０１２３４５６７８", ""},      // full-width digits
		{"", ""},
		{strings.Repeat("-", 40) + "01012345678", ""}, // over the input bound
	}
	for _, tt := range tests {
		got, err := ParsePhone(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ParsePhone(%q) = %q, want error", tt.in, got)
				continue
			}
			if f, p := fieldProblem(t, err); f != "phone" || p != msgPhone {
				t.Errorf("ParsePhone(%q): %s: %s", tt.in, f, p)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParsePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"01012345678", "010-****-5678"},
		{"0111234567", "011-***-4567"},
		{"010-1234-5678", "***-****-****"}, // not parsed: masked whole
		{"123", "***-****-****"},
		{"", "***-****-****"},
	}
	for _, tt := range tests {
		if got := MaskPhone(tt.in); got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseBirthDate(t *testing.T) {
	tests := []struct{ in, problem string }{
		{"19900101", ""},
		{"20000229", ""}, // leap day
		{"19000101", ""},
		{"20261122", ""}, // today in Korea
		{"20261123", msgBirthFut},
		{"19000229", msgBirthDate}, // 1900 was not a leap year
		{"19900230", msgBirthDate},
		{"19901301", msgBirthDate},
		{"19900100", msgBirthDate},
		{"18991231", msgBirthDate},
		{"1990-01-01", msgBirthDate},
		{"900101", msgBirthDate},
		{"1990010a", msgBirthDate},
		{"", msgBirthDate},
	}
	for _, tt := range tests {
		got, err := ParseBirthDateAt(tt.in, now)
		if tt.problem == "" {
			if err != nil || got != tt.in {
				t.Errorf("ParseBirthDateAt(%q) = %q, %v", tt.in, got, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ParseBirthDateAt(%q) accepted", tt.in)
			continue
		}
		if f, p := fieldProblem(t, err); f != "birthDate" || p != tt.problem {
			t.Errorf("ParseBirthDateAt(%q): %s: %s", tt.in, f, p)
		}
	}
	// Korea is ahead of UTC: at 16:00 UTC on the 22nd it is already the
	// 23rd there, so the 23rd is no longer in the future.
	late := time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC)
	if _, err := ParseBirthDateAt("20261123", late); err != nil {
		t.Fatalf("the 23rd in Korea: %v", err)
	}
	if _, err := ParseBirthDate("19900101"); err != nil {
		t.Fatalf("ParseBirthDate: %v", err)
	}
}

func TestParseSexAndCarrier(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{{"M", true}, {"F", true}, {"m", false}, {"X", false}, {"", false}, {" M", false}} {
		got, err := ParseSex(tt.in)
		if tt.ok != (err == nil) || (tt.ok && got != tt.in) {
			t.Errorf("ParseSex(%q) = %q, %v", tt.in, got, err)
		}
		if err != nil {
			if f, p := fieldProblem(t, err); f != "sex" || p != msgSex {
				t.Errorf("ParseSex(%q): %s: %s", tt.in, f, p)
			}
		}
	}
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{"SKT", true}, {"KT", true}, {"LGU", true}, {"SKT_MVNO", true}, {"KT_MVNO", true}, {"LGU_MVNO", true},
		{"skt", false}, {"LG U+", false}, {"LGU+", false}, {"MVNO", false}, {"", false}, {"SKT ", false},
	} {
		got, err := ParseCarrier(tt.in)
		if tt.ok != (err == nil) || (tt.ok && got != tt.in) {
			t.Errorf("ParseCarrier(%q) = %q, %v", tt.in, got, err)
		}
		if err != nil {
			if f, p := fieldProblem(t, err); f != "carrier" || p != msgCarrier {
				t.Errorf("ParseCarrier(%q): %s: %s", tt.in, f, p)
			}
		}
	}
}
