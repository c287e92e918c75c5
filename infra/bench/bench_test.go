package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/loadgen"
	"github.com/pccc/pccc/infra/localstack"
)

// A short make bench on each test stack: every measurement completes
// calls without errors and the report holds every row. (The figures
// themselves are for BENCHMARKS.md, never asserted: a slow machine must
// not fail the build.)
func TestShortBench(t *testing.T) {
	kinds, err := localstack.TestKinds()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	tpl := filepath.Join(wd, "..", "..", "template.yaml")
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			ctx := context.Background()
			// The rate bound on but far away and the latency bound off,
			// as make bench measures its ceilings.
			s, err := Start(ctx, tpl, kind, map[string]string{"REISSUES_PER_YEAR": "366", "ADMIT_MAX_RATE": "1000000", "ADMIT_MAX_LATENCY": "0"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			toks, err := Holders(ctx, s, "short", 32)
			if err != nil {
				t.Fatal(err)
			}
			c, err := MeasureCeilings(ctx, s, toks, 4, 100*time.Millisecond, 400*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range c.Rates() {
				if r.OK == 0 || r.Fails != 0 || r.PerSecond <= 0 || r.P99 < r.P50 {
					t.Errorf("%s: %+v", r.Name, r)
				}
			}
			if c.Drain.Backlog > 0 && c.Drain.PerSecond <= 0 {
				t.Errorf("drain %+v", c.Drain)
			}
			// A small spike, open loop: every call answered, nothing but
			// 2xx, 404 (a status poll before the first request) or 503
			// shedding, and the backlog drains.
			sp, err := Spike(ctx, s, "short spike", toks, loadgen.Spike(1, 10, time.Second, time.Second, 2*time.Second, time.Second), People, c.Drain.PerSecond)
			if err != nil {
				t.Fatal(err)
			}
			offered := int64(0)
			for _, e := range sp.Summary {
				offered += e.Offered
				if e.Errors+e.Timeouts+e.Dropped != 0 {
					t.Errorf("%s: %+v", e.Endpoint, e)
				}
				for code := range e.ByStatus {
					if code >= 300 && code != 404 && code != 503 {
						t.Errorf("%s answered %d: %v", e.Endpoint, code, e.ByStatus)
					}
				}
			}
			if offered < 20 {
				t.Errorf("only %d arrivals offered", offered)
			}
			var png bytes.Buffer
			if err := Chart(&png, sp); err != nil || png.Len() == 0 {
				t.Errorf("chart: %v", err)
			}
			var b strings.Builder
			WriteCeilings(&b, c)
			WriteSpike(&b, sp)
			WriteVerdict(&b, Verdict(c, sp, sp))
			for _, want := range []string{"SendMessage (raw)", "GetItem (raw", "its calls made raw", "the same GetItem", "accept path", "lookup path", "drained in", "Peak backlog", "Where the time goes", "spike: accept (reissue) p99"} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("report lacks %q", want)
				}
			}
		})
	}
}
