package bench

import (
	"crypto/sha256"
	"testing"
	"time"
)

// TestReadCPU: this process's time is counted, and an emulator's only
// when this process started it (this test starts none, whatever other
// java or node processes run on the machine).
func TestReadCPU(t *testing.T) {
	before := readCPU()
	if before == nil {
		t.Skip("no /proc here: the CPU table is left out of the report")
	}
	sum := sha256.Sum256(nil)
	for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
		sum = sha256.Sum256(sum[:])
	}
	d := readCPU().since(before)
	if d[ProcSelf] <= 0 {
		t.Fatalf("this process's time did not grow: %v", d)
	}
	if d[ProcWorkers] != 0 || d[ProcJava] != 0 || d[ProcNode] != 0 {
		t.Fatalf("processes this one did not start were counted: %v", d)
	}
}

// TestDrained: a drain up to 10% (or the sampling resolution) past
// backlog ÷ worker rate meets the bound, a faster one too, a slower not.
func TestDrained(t *testing.T) {
	for _, tc := range []struct {
		drain, expected time.Duration
		want            bool
	}{
		{3 * time.Second, 3 * time.Second, true},
		{3300 * time.Millisecond, 3 * time.Second, true},
		{2 * time.Second, 3 * time.Second, true},
		{3500 * time.Millisecond, 3 * time.Second, false},
		{200 * time.Millisecond, 0, true},
		{400 * time.Millisecond, 0, false},
	} {
		if got := drained(SpikeResult{Drain: tc.drain, Expected: tc.expected}); got != tc.want {
			t.Errorf("drain %v, expected %v: %v", tc.drain, tc.expected, got)
		}
	}
}
