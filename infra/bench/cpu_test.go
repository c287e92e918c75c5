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
	if d[ProcJava] != 0 || d[ProcNode] != 0 {
		t.Fatalf("processes this one did not start were counted: %v", d)
	}
}
