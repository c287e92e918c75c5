package codes

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/pccc/pccc/shared/apperr"
)

func TestCheckDigitKnownValue(t *testing.T) {
	// Damm's worked example: 572 -> check digit 4, and 5724 checks to 0.
	if got := CheckDigit("572"); got != '4' {
		t.Fatalf("CheckDigit(572) = %c, want 4", got)
	}
	if got := CheckDigit("5724"); got != '0' {
		t.Fatalf("CheckDigit(5724) = %c, want 0", got)
	}
}

func TestNewCodesAreValidAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		c, err := New(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !Valid(c) {
			t.Fatalf("New gave %q, which is not Valid", c)
		}
		if seen[c] {
			t.Fatalf("New repeated %q within 2000 codes", c)
		}
		seen[c] = true
	}
}

func TestNewDigitsAreUniform(t *testing.T) {
	// Every position sees every digit; a modulo bias or a stuck position
	// would show as a count far from 1/10.
	const n = 20000
	var counts [Length - 1][10]int
	for i := 0; i < n; i++ {
		c, err := New(nil)
		if err != nil {
			t.Fatal(err)
		}
		for p := 0; p < Length-1; p++ {
			counts[p][c[1+p]-'0']++
		}
	}
	for p := range counts {
		for d, k := range counts[p] {
			if k < n/10*8/10 || k > n/10*12/10 {
				t.Errorf("position %d digit %d: %d of %d", p, d, k, n)
			}
		}
	}
}

func TestNewRejectsBiasedBytes(t *testing.T) {
	// A source of only 255s and 7s: the 255s must be skipped, not folded
	// into digit 5.
	src := bytes.NewReader(bytes.Repeat([]byte{255, 7}, 64))
	c, err := New(src)
	if err != nil {
		t.Fatal(err)
	}
	if c[:Length] != "P"+strings.Repeat("7", Length-1) {
		t.Fatalf("New = %q, want all 7s", c)
	}
}

func TestNewReportsAFailingSource(t *testing.T) {
	if _, err := New(bytes.NewReader(nil)); err == nil {
		t.Fatal("New with an empty source succeeded")
	}
}

func TestEveryTypoIsCaught(t *testing.T) {
	for i := 0; i < 300; i++ {
		c, _ := New(nil)
		b := []byte(c)
		for p := 1; p <= Length; p++ {
			orig := b[p]
			for d := byte('0'); d <= '9'; d++ {
				if d == orig {
					continue
				}
				b[p] = d
				if Valid(string(b)) {
					t.Fatalf("%s with digit %d changed to %c still valid", c, p, d)
				}
			}
			b[p] = orig
		}
		for p := 1; p < Length; p++ {
			if b[p] == b[p+1] {
				continue
			}
			b[p], b[p+1] = b[p+1], b[p]
			if Valid(string(b)) {
				t.Fatalf("%s with digits %d,%d swapped still valid", c, p, p+1)
			}
			b[p], b[p+1] = b[p+1], b[p]
		}
	}
}

func TestFormatAndValid(t *testing.T) {
	good, _ := New(nil)
	for _, tc := range []struct {
		in            string
		format, valid bool
	}{
		{good, true, true},
		{"P193456789123", true, CheckDigit("19345678912") == '3'},
		{"p" + good[1:], false, false},
		{"P12345678901", false, false},
		{"P12345678901234", false, false},
		{"Q123456789012", false, false},
		{"P12345678901a", false, false},
		{"P１23456789012", false, false},
		{"", false, false},
	} {
		if got := Format(tc.in); got != tc.format {
			t.Errorf("Format(%q) = %v", tc.in, got)
		}
		if got := Valid(tc.in); got != tc.valid {
			t.Errorf("Valid(%q) = %v", tc.in, got)
		}
	}
}

func TestParse(t *testing.T) {
	good, _ := New(nil)
	bad := []byte(good)
	bad[5] = '0' + (bad[5]-'0'+1)%10
	for _, tc := range []struct {
		in, want, problem string
	}{
		{good, good, ""},
		{"  p" + good[1:] + "\t", good, ""},
		{string(bad), "", msgCheck},
		{"P1234", "", msgFormat},
		{strings.Repeat("9", 100), "", msgFormat},
		{"P 12345678901", "", msgFormat},
	} {
		got, err := Parse("code", tc.in)
		if tc.problem == "" {
			if err != nil || got != tc.want {
				t.Errorf("Parse(%q) = %q, %v", tc.in, got, err)
			}
			continue
		}
		e := apperr.As(err)
		if e.Code != apperr.Invalid || e.Fields["code"] != tc.problem {
			t.Errorf("Parse(%q): %v, want 400 code %q", tc.in, err, tc.problem)
		}
		if strings.Contains(e.Fields["code"], tc.in) {
			t.Errorf("Parse(%q): the problem repeats the input", tc.in)
		}
	}
}

func FuzzParse(f *testing.F) {
	good, _ := New(nil)
	for _, s := range []string{good, "P193456789123", "p1", "", " P000000000000 ", "P\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse("code", s)
		if err != nil {
			if apperr.As(err).Code != apperr.Invalid {
				t.Fatalf("Parse(%q): %v is not a 400", s, err)
			}
			return
		}
		if !Valid(c) {
			t.Fatalf("Parse(%q) = %q, not valid", s, c)
		}
		if again, err := Parse("code", c); err != nil || again != c {
			t.Fatalf("Parse is not idempotent on %q", c)
		}
	})
}
