package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestColdStartReport(t *testing.T) {
	c := ColdStart{LogicalID: "IssueCodeFunction", Name: "codeissue", MemoryMB: 256, Bytes: 11 << 20, PeakRSS: 12 << 20,
		Inits: []time.Duration{9 * time.Millisecond, 5 * time.Millisecond, 7 * time.Millisecond, 30 * time.Millisecond, 6 * time.Millisecond}}
	if c.Median() != 7*time.Millisecond || c.Max() != 30*time.Millisecond {
		t.Errorf("median %v, max %v", c.Median(), c.Max())
	}
	var b bytes.Buffer
	WriteColdStarts(&b, []ColdStart{c})
	if !strings.Contains(b.String(), "| IssueCodeFunction | `codeissue` | 11.0 MiB | 7.0 ms | 30.0 ms | 12.0 MiB | 256 MB |") ||
		!strings.Contains(b.String(), "started 5 times") {
		t.Errorf("report:\n%s", b.String())
	}
}
