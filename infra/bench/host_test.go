package bench

import (
	"math"
	"testing"
)

func TestStealShare(t *testing.T) {
	a := parseHostTime("cpu  100 10 50 1000 5 0 5 20 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\n")
	b := parseHostTime("cpu  160 10 80 1100 5 0 10 70 0 0\n")
	if a != (HostTime{Busy: 165, Idle: 1005, Steal: 20}) {
		t.Fatalf("parsed %+v", a)
	}
	// 95 busy, 100 idle and 50 stolen ticks: 50 of 245.
	if got := StealShare(a, b); math.Abs(got-50.0/245) > 1e-9 {
		t.Errorf("StealShare = %v, want %v", got, 50.0/245)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 x 4 5 6 7 8", "cpu 1 2 3"} {
		if h := parseHostTime(bad); h != (HostTime{}) {
			t.Errorf("%q parsed as %+v", bad, h)
		}
	}
	// And 95 of them busy.
	if got := BusyShare(a, b); math.Abs(got-95.0/245) > 1e-9 {
		t.Errorf("BusyShare = %v, want %v", got, 95.0/245)
	}
	if got, busy := StealShare(HostTime{}, HostTime{}), BusyShare(HostTime{}, HostTime{}); got != 0 || busy != 0 {
		t.Errorf("nothing read: %v, %v", got, busy)
	}
}
