package chart

import (
	"math"
	"testing"
)

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   []float64
	}{
		{0, 97, []float64{0, 20, 40, 60, 80, 100}},
		{0, 100, []float64{0, 20, 40, 60, 80, 100}},
		{0, 120, []float64{0, 20, 40, 60, 80, 100, 120}},
		{0, 2000, []float64{0, 500, 1000, 1500, 2000}},
		{0, 2400, []float64{0, 500, 1000, 1500, 2000, 2500}},
		{0, 1, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{0, 3, []float64{0, 1, 2, 3}},
		{0, 0.07, []float64{0, 0.02, 0.04, 0.06, 0.08}},
		{-7, 13, []float64{-10, -5, 0, 5, 10, 15}},
		{13, 97, []float64{0, 20, 40, 60, 80, 100}},
		{1003, 1012, []float64{1002, 1004, 1006, 1008, 1010, 1012}},
		{97, 0, []float64{0, 20, 40, 60, 80, 100}},         // reversed
		{0, 0, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},        // all zero: no division by zero
		{5, 5, []float64{4.4, 4.6, 4.8, 5, 5.2, 5.4, 5.6}}, // flat: widened by 10%
		{0, 3e6, []float64{0, 1e6, 2e6, 3e6}},
	} {
		got := Ticks(tc.lo, tc.hi, 5)
		if !equal(got, tc.want) {
			t.Errorf("Ticks(%v, %v) = %v, want %v", tc.lo, tc.hi, got, tc.want)
		}
	}
	for _, bad := range [][2]float64{{math.NaN(), 1}, {0, math.Inf(1)}} {
		if got := Ticks(bad[0], bad[1], 5); got != nil {
			t.Errorf("Ticks(%v, %v) = %v, want nil", bad[0], bad[1], got)
		}
	}
	// Whatever the input, the ticks are few and cover the range.
	for _, r := range [][2]float64{{1e9, 1e9 + 1e-7}, {-1e300, 1e300}, {1e-300, 2e-300}, {0, 1e-12}} {
		got := Ticks(r[0], r[1], 5)
		slack := (r[1] - r[0]) * 1e-9
		if len(got) < 2 || len(got) > maxTicks || got[0] > r[0]+slack || got[len(got)-1] < r[1]-slack {
			t.Errorf("Ticks(%v, %v) = %v", r[0], r[1], got)
		}
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-9*math.Max(1, math.Abs(b[i])) {
			return false
		}
	}
	return true
}

func TestFormatTick(t *testing.T) {
	for _, tc := range []struct {
		v, step, mag float64
		want         string
	}{
		{0, 20, 100, "0"},
		{40, 20, 100, "40"},
		{0.4, 0.2, 1, "0.4"},
		{0.06, 0.02, 0.08, "0.06"},
		{-5, 5, 15, "-5"},
		{25000, 5000, 40000, "25k"},
		{2500, 500, 40000, "2.5k"},
		{2e6, 1e6, 3e6, "2M"},
		{1.5e6, 5e5, 3e6, "1.5M"},
		{2e-7, 1e-7, 5e-7, "2e-07"},
	} {
		if got := formatTick(tc.v, tc.step, tc.mag); got != tc.want {
			t.Errorf("formatTick(%v, step %v) = %q, want %q", tc.v, tc.step, got, tc.want)
		}
	}
}

// Every glyph fits its 5-pixel width, the font covers what chart labels
// use, and a missing rune still draws something.
func TestFont(t *testing.T) {
	for r, g := range glyphs {
		for _, row := range g {
			if row >= 1<<glyphW {
				t.Errorf("glyph %q has a row wider than %d pixels", r, glyphW)
			}
		}
	}
	for _, r := range "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz .,:;-+=/()[]<>%_?!'\"#*&@|µ×" {
		if _, ok := glyphs[r]; !ok {
			t.Errorf("no glyph for %q", r)
		}
	}
	if glyph('€') != glyphs['?'] {
		t.Error("a missing rune does not fall back to '?'")
	}
	if textWidth("", 2) != 0 || textWidth("ab", 1) != 11 {
		t.Errorf("textWidth: %d, %d", textWidth("", 2), textWidth("ab", 1))
	}
}
