package chart

import (
	"math"
	"strconv"
)

// maxTicks bounds Ticks however odd its input, so a degenerate range can
// never turn into a long loop or a wall of labels.
const maxTicks = 50

// Ticks returns about n tick values covering [lo, hi], spaced by a "nice"
// step (1, 2 or 5 times a power of ten), the first at or below lo and the
// last at or above hi: 0..97 gives 0, 20, 40, 60, 80, 100. The axis is
// then drawn from the first tick to the last, so the extremes are
// labelled. A zero-width range is widened (0..0 becomes 0..1) so a flat
// series still gets an axis. Non-finite input gives nil.
func Ticks(lo, hi float64, n int) []float64 {
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return nil
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	lo, hi = widen(lo, hi)
	n = min(max(n, 2), maxTicks)
	// The step is the nice number nearest to an even split into n-1
	// intervals; the ends are then rounded out to multiples of it. (Making
	// the span nice first, as Heckbert does, wastes up to a third of the
	// axis: 0..120 would run to 150.) Dividing before subtracting keeps
	// -1e308..1e308 from overflowing.
	mant, exp, ok := nice(hi/float64(n-1) - lo/float64(n-1))
	if !ok {
		return []float64{lo, hi}
	}
	step := decimal(mant, exp)
	kFirst, kLast := math.Floor(lo/step), math.Ceil(hi/step)
	if kLast-kFirst < 1 || kLast-kFirst >= maxTicks || math.Abs(kFirst) > 1<<52 || math.Abs(kLast) > 1<<52 {
		// The step is lost in lo's rounding (a range of 1e-9 at 1e9):
		// label the two ends.
		return []float64{lo, hi}
	}
	ticks := make([]float64, int(kLast-kFirst)+1)
	for i := range ticks {
		// Each tick is an integer times a power of ten, computed in one
		// rounding rather than accumulated, so 0.2*3 comes out as 0.6,
		// not 0.6000000000000001.
		ticks[i] = decimal((int64(kFirst)+int64(i))*mant, exp)
	}
	return ticks
}

// widen makes a zero-width range usable.
func widen(lo, hi float64) (float64, float64) {
	if hi > lo {
		return lo, hi
	}
	if lo == 0 {
		return 0, 1
	}
	d := math.Abs(lo) * 0.1
	return lo - d, hi + d
}

// nice returns the 1, 2 or 5 times a power of ten nearest to x (> 0),
// as mantissa and exponent, judged on a log scale: the cut-offs are the
// geometric means of neighbours (√2 between 1 and 2, and so on). ok is
// false for an x too small or too large to work with.
func nice(x float64) (mant int64, exp int, ok bool) {
	if !(x >= 1e-290 && x <= 1e290) { // also false for NaN
		return 0, 0, false
	}
	exp = int(math.Floor(math.Log10(x)))
	switch f := x / math.Pow10(exp); {
	case f < math.Sqrt2:
		return 1, exp, true
	case f < math.Sqrt(10):
		return 2, exp, true
	case f < math.Sqrt(50):
		return 5, exp, true
	default:
		return 1, exp + 1, true
	}
}

// decimal is m×10^exp. Within ±22 the power of ten is exact in float64,
// so one multiplication or division gives the double nearest the decimal
// value; beyond, it is merely close.
func decimal(m int64, exp int) float64 {
	switch {
	case exp >= 0:
		return float64(m) * math.Pow10(exp)
	case exp >= -22:
		return float64(m) / math.Pow10(-exp)
	default:
		return float64(m) * math.Pow10(exp)
	}
}

// decimals is how many digits after the point a step needs: 0 for 20,
// 1 for 0.5, 2 for 0.05.
func decimals(step float64) int {
	if step <= 0 || step >= 1 || math.IsNaN(step) {
		return 0
	}
	return min(int(math.Ceil(-math.Log10(step)-1e-9)), 15)
}

// formatTick labels a tick. Big values get a k or M suffix so labels
// stay short enough for the margin: on an axis reaching 40000 (mag),
// 25000 is "25k".
func formatTick(v, step, mag float64) string {
	suffix := ""
	switch {
	case mag >= 1e6:
		v, step, suffix = v/1e6, step/1e6, "M"
	case mag >= 1e4:
		v, step, suffix = v/1e3, step/1e3, "k"
	}
	if v == 0 {
		return "0"
	}
	if step < 1e-4 || mag >= 1e15 {
		// Too many digits either way for fixed notation to fit a margin.
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return strconv.FormatFloat(v, 'f', decimals(step), 64) + suffix
}
