package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
			s, err := Start(ctx, tpl, kind, map[string]string{"REISSUES_PER_YEAR": "366"})
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
			for _, r := range []Rate{c.TrivialHTTP, c.SendMessage, c.GetItem, c.AcceptAlone, c.Accept, c.Lookup} {
				if r.OK == 0 || r.Fails != 0 || r.PerSecond <= 0 || r.P99 < r.P50 {
					t.Errorf("%s: %+v", r.Name, r)
				}
			}
			if c.Drain.Backlog > 0 && c.Drain.PerSecond <= 0 {
				t.Errorf("drain %+v", c.Drain)
			}
			var b strings.Builder
			WriteCeilings(&b, c)
			for _, want := range []string{"raw SendMessage", "GetItem (raw)", "accept path", "lookup path", "drained in"} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("report lacks %q", want)
				}
			}
		})
	}
}
