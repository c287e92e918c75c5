package chart

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"
	"testing"
)

var out = flag.String("out", "", "write TestSeriesDrawnWhereTheDataIs's chart to this file, to look at")

func render(t *testing.T, c *Chart) image.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(&buf); err != nil {
		t.Fatalf("Render: %v", err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("output is not a PNG: %v", err)
	}
	return img
}

func TestRenderSize(t *testing.T) {
	pts := []Point{{0, 1}, {1, 3}, {2, 2}}
	for _, tc := range []struct{ w, h, wantW, wantH int }{
		{0, 0, DefaultWidth, DefaultHeight},
		{640, 400, 640, 400},
		{1920, 300, 1920, 300},
	} {
		img := render(t, &Chart{Width: tc.w, Height: tc.h, Title: "size", Series: []Series{{Name: "s", Points: pts}}})
		if b := img.Bounds(); b.Dx() != tc.wantW || b.Dy() != tc.wantH {
			t.Errorf("asked for %dx%d, got %dx%d, want %dx%d", tc.w, tc.h, b.Dx(), b.Dy(), tc.wantW, tc.wantH)
		}
	}
}

func TestRenderRefusesBadSizes(t *testing.T) {
	for _, c := range []Chart{
		{Width: -1, Height: 100},
		{Width: 100, Height: MaxSide + 1},
		{Width: 20, Height: 20, Title: "far too small for labels"},
	} {
		if err := c.Render(&bytes.Buffer{}); err == nil {
			t.Errorf("%dx%d rendered without error", c.Width, c.Height)
		}
	}
}

// The series' colours are where the data says: pixels sampled along the
// lines, one per panel, have each series' colour, and not far from them.
func TestSeriesDrawnWhereTheDataIs(t *testing.T) {
	red := color.RGBA{220, 20, 20, 255}
	blue := color.RGBA{20, 20, 220, 255}
	c := &Chart{
		Width: 800, Height: 500, Title: "lines", XLabel: "x",
		Left:  Axis{Label: "rate"},
		Right: Axis{Label: "depth"},
		Series: []Series{
			{Name: "rising", Color: red, Points: []Point{{0, 0}, {100, 100}}},
			{Name: "falling", Color: blue, Axis: Right, Points: []Point{{0, 10}, {100, 0}}},
		},
	}
	canvas, areas, err := c.draw()
	if err != nil {
		t.Fatal(err)
	}
	if len(areas) != 2 {
		t.Fatalf("%d panels, want the right axis' below the left's", len(areas))
	}
	var buf bytes.Buffer
	if err := c.Render(&buf); err != nil {
		t.Fatal(err)
	}
	if *out != "" {
		_ = os.WriteFile(*out, buf.Bytes(), 0o644)
	}
	_ = canvas
	img, _ := png.Decode(&buf)
	top, bottom := areas[0], areas[1]
	if _, y0 := top.pixel(0, 0); y0 > img.Bounds().Dy()/2+10 {
		t.Errorf("the left axis' zero is at y %d, below the top panel", y0)
	}
	for _, x := range []float64{10, 30, 50, 70, 90} {
		if px, py := top.pixel(x, x); !nearColor(img, px, py, red) {
			t.Errorf("rising line at x=%v: no red near (%d,%d)", x, px, py)
		}
		if px, py := bottom.pixel(x, 10-x/10); !nearColor(img, px, py, blue) {
			t.Errorf("falling line at x=%v: no blue near (%d,%d)", x, px, py)
		}
	}
	// Not where the data is not.
	for _, p := range []Point{{10, 80}, {80, 15}} {
		if px, py := top.pixel(p.X, p.Y); nearColor(img, px, py, red) {
			t.Errorf("red at (%d,%d), far from the line", px, py)
		}
	}
	// One X range: the same x is the same column in both panels.
	if a, _ := top.pixel(50, 0); func() int { b, _ := bottom.pixel(50, 0); return b }() != a {
		t.Error("the panels' X axes are not aligned")
	}
}

// nearColor: a pixel of the colour within 2 pixels of (x, y) (lines are
// anti-aliased).
func nearColor(img image.Image, x, y int, want color.RGBA) bool {
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			r, g, b, _ := img.At(x+dx, y+dy).RGBA()
			d := func(a uint32, b uint8) int { v := int(a>>8) - int(b); return max(v, -v) }
			if d(r, want.R) < 30 && d(g, want.G) < 30 && d(b, want.B) < 30 {
				return true
			}
		}
	}
	return false
}

// Degenerate data renders without error or panic: no series, empty
// series, a single point (drawn as a dot), all zeros, NaN and infinite
// points, values far outside a fixed axis.
func TestDegenerateData(t *testing.T) {
	green := color.RGBA{0, 160, 0, 255}
	cases := map[string]*Chart{
		"no series":    {},
		"empty series": {Series: []Series{{Name: "empty"}, {Name: "empty right", Axis: Right}}},
		"single point": {Series: []Series{{Name: "one", Color: green, Points: []Point{{3, 7}}}}},
		"all zero":     {Series: []Series{{Name: "zeros", Points: []Point{{0, 0}, {1, 0}, {2, 0}}}, {Axis: Right, Points: []Point{{0, 0}, {2, 0}}}}},
		"constant x":   {Series: []Series{{Points: []Point{{5, 1}, {5, 2}}}}},
		"non-finite": {Series: []Series{{Points: []Point{
			{0, 1}, {math.NaN(), 2}, {2, math.Inf(1)}, {3, 4}, {4, math.Inf(-1)}, {5, 5}, {6, 6},
		}}}},
		"outside fixed axis": {
			Left:   Axis{Min: 0, Max: 10},
			Series: []Series{{Points: []Point{{0, -1e300}, {1, 1e300}, {2, 5}, {3, 1e15}}}},
		},
		"negative": {Series: []Series{{Points: []Point{{-10, -3}, {10, 3}}}}},
		"long legend": {Width: 300, Height: 300, Series: []Series{
			{Name: strings.Repeat("long name ", 3)}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"},
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			img := render(t, c)
			if b := img.Bounds(); b.Dx() != DefaultWidth && c.Width == 0 {
				t.Errorf("width %d", b.Dx())
			}
		})
	}
	// The single point is visible at its place.
	c := cases["single point"]
	_, areas, err := c.draw()
	if err != nil {
		t.Fatal(err)
	}
	img := render(t, c)
	if px, py := areas[0].pixel(3, 7); !nearColor(img, px, py, green) {
		t.Errorf("single point: no green near (%d,%d)", px, py)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderReportsWriteErrors(t *testing.T) {
	if err := (&Chart{}).Render(failingWriter{}); err == nil {
		t.Error("a failed write was not reported")
	}
}
