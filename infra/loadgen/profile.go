package loadgen

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Phase is a stretch of the run whose offered rate, in requests per
// second, moves linearly from StartRate to EndRate over Duration. A
// constant rate is StartRate == EndRate.
type Phase struct {
	Name               string
	Duration           time.Duration
	StartRate, EndRate float64
}

// Profile is a sequence of phases played back to back.
type Profile []Phase

// Spike builds the profile of a traffic spike: baseline for baseDur, a
// linear ramp to baseline*peakFactor over rampDur, the peak held for
// peakDur, and a linear decay back to baseline over decayDur. All four
// phases are present even when a duration is zero (they then offer
// nothing), so phase indexes mean the same thing in every run.
func Spike(baseline, peakFactor float64, baseDur, rampDur, peakDur, decayDur time.Duration) Profile {
	peak := baseline * peakFactor
	return Profile{
		{Name: "baseline", Duration: baseDur, StartRate: baseline, EndRate: baseline},
		{Name: "ramp", Duration: rampDur, StartRate: baseline, EndRate: peak},
		{Name: "peak", Duration: peakDur, StartRate: peak, EndRate: peak},
		{Name: "decay", Duration: decayDur, StartRate: peak, EndRate: baseline},
	}
}

// Validate reports a phase with a negative duration or a rate that is
// negative, NaN or infinite. Arrivals treats such values as zero; this is
// for callers that would rather refuse them.
func (p Profile) Validate() error {
	var errs []error
	for i, ph := range p {
		if ph.Duration < 0 {
			errs = append(errs, fmt.Errorf("phase %d (%s): negative duration %v", i, ph.Name, ph.Duration))
		}
		for _, r := range []float64{ph.StartRate, ph.EndRate} {
			if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
				errs = append(errs, fmt.Errorf("phase %d (%s): rate %v is not a finite non-negative number", i, ph.Name, r))
			}
		}
	}
	return errors.Join(errs...)
}

// Duration is the total length of the profile.
func (p Profile) Duration() time.Duration {
	var d time.Duration
	for _, ph := range p {
		if ph.Duration > 0 {
			d += ph.Duration
		}
	}
	return d
}

// Expected is the number of arrivals the profile offers: the integral of
// its rate over time. Arrivals returns floor(Expected()) of them, give or
// take one for floating point, so callers can check a profile's size
// before materialising its schedule.
func (p Profile) Expected() float64 {
	var n float64
	for _, ph := range p {
		n += ph.expected()
	}
	return n
}

// Arrivals is the schedule of the profile: the offset from the start at
// which each request is due, non-decreasing. The k-th arrival (k = 1, 2,
// ...) is the moment the expected count, the integral of the rate, reaches
// k. The schedule is deterministic rather than Poisson on purpose: two
// runs of the same profile offer exactly the same load, so a difference
// in their results is the system's, not the dice's.
func (p Profile) Arrivals() []time.Duration {
	out := make([]time.Duration, 0, int(math.Min(p.Expected(), 1<<24))+1)
	// Cumulative count in float, compared against integer k, so rounding
	// never accumulates across phases: each phase solves for its own
	// arrivals from the count carried in.
	var (
		start time.Duration // offset at which the current phase begins
		cum   float64       // expected count before the current phase
		k     = 1.0         // the next arrival to place
	)
	for _, ph := range p {
		if ph.Duration <= 0 {
			continue
		}
		a, b := clampRate(ph.StartRate), clampRate(ph.EndRate)
		d := ph.Duration.Seconds()
		end := cum + (a+b)/2*d
		// The tolerance keeps an arrival that lands exactly on the phase
		// boundary (50/s for 1s is 50, not 49.999...) in this phase.
		for k <= end+1e-9 {
			t := solveRamp(a, b, d, k-cum)
			out = append(out, start+time.Duration(t*float64(time.Second)))
			k++
		}
		start += ph.Duration
		cum = end
	}
	return out
}

// expected is the integral of the phase's rate: the trapezoid's area.
func (ph Phase) expected() float64 {
	if ph.Duration <= 0 {
		return 0
	}
	return (clampRate(ph.StartRate) + clampRate(ph.EndRate)) / 2 * ph.Duration.Seconds()
}

// clampRate turns a rate Validate would reject into zero.
func clampRate(r float64) float64 {
	if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return 0
	}
	return r
}

// solveRamp finds t in [0, d] at which a rate ramping from a to b over d
// seconds has accumulated n arrivals: a*t + (b-a)/(2d)*t² = n. It uses the
// form t = 2n / (a + sqrt(a² + 4cn)) of the quadratic's root, which,
// unlike the schoolbook one, does not cancel catastrophically when the
// ramp is nearly flat (c near zero) and needs no special case for it.
func solveRamp(a, b, d, n float64) float64 {
	c := (b - a) / (2 * d)
	disc := a*a + 4*c*n
	if disc < 0 { // only by rounding at the very end of a decay
		disc = 0
	}
	den := a + math.Sqrt(disc)
	if den <= 0 {
		return d
	}
	t := 2 * n / den
	return math.Min(math.Max(t, 0), d)
}
