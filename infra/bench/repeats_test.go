package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/loadgen"
)

func spikeWithP99(p99 time.Duration) SpikeResult {
	return SpikeResult{Summary: []loadgen.EndpointSummary{{Endpoint: EpReissue, P99: p99}}}
}

// TestRepeatCheck: the spike's p99 target holds only when every run
// meets it; one run past 50 ms, or a run without reissues, fails it.
func TestRepeatCheck(t *testing.T) {
	ok := []SpikeResult{spikeWithP99(24 * time.Millisecond), spikeWithP99(50 * time.Millisecond), spikeWithP99(31 * time.Millisecond)}
	c := RepeatCheck(ok)
	if !c.Met || c.Figure != "24.0, 50.0, 31.0 ms" || c.Target != "≤ 50 ms in 3 of 3" {
		t.Fatalf("all within: %+v", c)
	}
	if c := RepeatCheck(append(ok, spikeWithP99(51*time.Millisecond))); c.Met || !strings.Contains(c.Figure, "51.0") {
		t.Fatalf("one past 50 ms: %+v", c)
	}
	if c := RepeatCheck(append(ok, SpikeResult{})); c.Met {
		t.Fatalf("a run without reissues: %+v", c)
	}
	if c := RepeatCheck(nil); c.Met {
		t.Fatalf("no runs: %+v", c)
	}
}
