package loadgen

import (
	"math"
	"testing"
	"time"
)

// Each phase offers its integral, within one arrival, and the schedule
// never goes backwards: this holds for flat, rising, falling and
// from-zero phases, and across phase boundaries.
func TestArrivalsMatchIntegral(t *testing.T) {
	profiles := map[string]Profile{
		"steady": {{Name: "flat", Duration: time.Second, StartRate: 50, EndRate: 50}},
		"spike":  Spike(20, 5, 3*time.Second, 2*time.Second, 4*time.Second, 3*time.Second),
		"from zero": {
			{Name: "up", Duration: 2500 * time.Millisecond, StartRate: 0, EndRate: 333},
			{Name: "down", Duration: 1700 * time.Millisecond, StartRate: 333, EndRate: 0},
			{Name: "idle", Duration: time.Second},
			{Name: "slow", Duration: 10 * time.Second, StartRate: 0.7, EndRate: 0.7},
		},
		"fractional": {
			{Name: "a", Duration: 1333 * time.Millisecond, StartRate: 7.3, EndRate: 91.1},
			{Name: "b", Duration: 777 * time.Millisecond, StartRate: 91.1, EndRate: 91.1},
			{Name: "c", Duration: 2 * time.Second, StartRate: 91.1, EndRate: 12.5},
		},
		"empty": {},
	}
	for name, p := range profiles {
		t.Run(name, func(t *testing.T) {
			arr := p.Arrivals()
			for i := 1; i < len(arr); i++ {
				if arr[i] < arr[i-1] {
					t.Fatalf("arrival %d at %v is before arrival %d at %v", i, arr[i], i-1, arr[i-1])
				}
			}
			if len(arr) > 0 && (arr[0] < 0 || arr[len(arr)-1] > p.Duration()) {
				t.Fatalf("arrivals span %v..%v, outside the profile's 0..%v", arr[0], arr[len(arr)-1], p.Duration())
			}
			if got, want := float64(len(arr)), p.Expected(); math.Abs(got-want) > 1 {
				t.Errorf("%v arrivals in total, want %.2f ± 1", got, want)
			}
			var start time.Duration
			for _, ph := range p {
				end := start + ph.Duration
				n := 0
				for _, a := range arr {
					if a >= start && a < end {
						n++
					}
				}
				want := (ph.StartRate + ph.EndRate) / 2 * ph.Duration.Seconds()
				if math.Abs(float64(n)-want) > 1 {
					t.Errorf("phase %q: %d arrivals, want %.2f ± 1", ph.Name, n, want)
				}
				start = end
			}
		})
	}
}

// A constant rate is evenly spaced, the k-th arrival at k/rate.
func TestArrivalsConstantRateEvenlySpaced(t *testing.T) {
	arr := Profile{{Duration: time.Second, StartRate: 50, EndRate: 50}}.Arrivals()
	if len(arr) != 50 {
		t.Fatalf("%d arrivals, want 50", len(arr))
	}
	for i, a := range arr {
		want := time.Duration(i+1) * 20 * time.Millisecond
		if d := a - want; d < -time.Microsecond || d > time.Microsecond {
			t.Fatalf("arrival %d at %v, want %v", i, a, want)
		}
	}
}

// On a ramp from 0 to r over d the count by time t is r*t²/(2d), so half
// the arrivals are due by d/√2: the solver places them on the curve.
func TestArrivalsFollowRamp(t *testing.T) {
	p := Profile{{Duration: 10 * time.Second, StartRate: 0, EndRate: 200}}
	arr := p.Arrivals()
	if len(arr) != 1000 {
		t.Fatalf("%d arrivals, want 1000", len(arr))
	}
	half := arr[499] // the 500th
	want := time.Duration(math.Round(10 / math.Sqrt2 * float64(time.Second)))
	if d := half - want; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("500th arrival at %v, want %v", half, want)
	}
}

func TestSpikeShape(t *testing.T) {
	p := Spike(10, 4, time.Second, 2*time.Second, 3*time.Second, 4*time.Second)
	want := Profile{
		{"baseline", time.Second, 10, 10},
		{"ramp", 2 * time.Second, 10, 40},
		{"peak", 3 * time.Second, 40, 40},
		{"decay", 4 * time.Second, 40, 10},
	}
	if len(p) != len(want) {
		t.Fatalf("%d phases, want %d", len(p), len(want))
	}
	for i := range want {
		if p[i] != want[i] {
			t.Errorf("phase %d = %+v, want %+v", i, p[i], want[i])
		}
	}
	if p.Duration() != 10*time.Second {
		t.Errorf("duration %v, want 10s", p.Duration())
	}
	if got := p.Expected(); got != 10+50+120+100 {
		t.Errorf("expected %v arrivals, want 280", got)
	}
}

// Nonsense rates are refused by Validate and offer nothing in Arrivals,
// rather than looping forever or producing negative offsets.
func TestInvalidPhases(t *testing.T) {
	p := Profile{
		{Name: "neg", Duration: time.Second, StartRate: -5, EndRate: -5},
		{Name: "nan", Duration: time.Second, StartRate: math.NaN(), EndRate: math.Inf(1)},
		{Name: "backwards", Duration: -time.Second, StartRate: 10, EndRate: 10},
		{Name: "ok", Duration: time.Second, StartRate: 3, EndRate: 3},
	}
	if p.Validate() == nil {
		t.Error("Validate accepted negative, NaN and infinite rates and a negative duration")
	}
	if (Profile{{Duration: time.Second, StartRate: 1, EndRate: 2}}).Validate() != nil {
		t.Error("Validate refused a good profile")
	}
	arr := p.Arrivals()
	if len(arr) != 3 {
		t.Fatalf("%d arrivals, want 3 (only the valid phase offers)", len(arr))
	}
	for _, a := range arr {
		if a < 2*time.Second || a > 3*time.Second {
			t.Errorf("arrival at %v, want within the valid phase, 2s..3s", a)
		}
	}
}
