package bench

import (
	"bytes"
	"flag"
	"image/png"
	"os"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/chart"
	"github.com/pccc/pccc/infra/loadgen"
)

var chartOut = flag.String("chart-out", "", "write TestChartFromAFixture's PNG to this file, to look at")

// A spike of a few seconds, as the report draws it: offered and accepted
// per second above, the queue's depth below.
func TestChartFromAFixture(t *testing.T) {
	r := SpikeResult{Name: "spike (fixture)"}
	for i := range 30 {
		offered := int64(40)
		if i >= 10 && i < 20 {
			offered = 220
		}
		r.Series = append(r.Series,
			loadgen.Second{Offset: time.Duration(i) * time.Second, Endpoint: EpReissue, Offered: offered * 8 / 10, Status2xx: offered * 8 / 10},
			loadgen.Second{Offset: time.Duration(i) * time.Second, Endpoint: EpLookup, Offered: offered * 2 / 10})
	}
	depth := 0
	for i := range 40 {
		if i >= 10 && i < 20 {
			depth += 80
		} else if depth > 0 {
			depth = max(0, depth-60)
		}
		r.Depth = append(r.Depth, DepthSample{At: time.Duration(i+1) * time.Second, Depth: depth})
	}
	var b bytes.Buffer
	if err := Chart(&b, r); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != chart.DefaultWidth || img.Bounds().Dy() != chart.DefaultHeight {
		t.Errorf("%v", img.Bounds())
	}
	if *chartOut != "" {
		if err := os.WriteFile(*chartOut, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
