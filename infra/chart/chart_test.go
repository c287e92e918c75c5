package chart

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
	"testing"
)

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

// The series' colours are where the data says: pixels sampled along
// known straight lines, one per axis, have each series' colour, and the
// lines sit where the axis ranges put them.
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
	l, err := c.layout()
	if err != nil {
		t.Fatal(err)
	}
	// The ranges are the nice ranges of the data: 0..100 and 0..10.
	if l.x.lo != 0 || l.x.hi != 100 || l.left.lo != 0 || l.left.hi != 100 || l.right.lo != 0 || l.right.hi != 10 {
		t.Fatalf("ranges x %v..%v left %v..%v right %v..%v", l.x.lo, l.x.hi, l.left.lo, l.left.hi, l.right.lo, l.right.hi)
	}
	// The red line runs corner to corner of the plot area.
	if x, y := l.px(0), l.py(l.left, 0); x != l.plot.Min.X || y != l.plot.Max.Y-1 {
		t.Errorf("(0,0) maps to (%d,%d), want the plot's bottom-left (%d,%d)", x, y, l.plot.Min.X, l.plot.Max.Y-1)
	}
	if x, y := l.px(100), l.py(l.left, 100); x != l.plot.Max.X-1 || y != l.plot.Min.Y {
		t.Errorf("(100,100) maps to (%d,%d), want the plot's top-right (%d,%d)", x, y, l.plot.Max.X-1, l.plot.Min.Y)
	}

	img := render(t, c)
	for _, x := range []float64{5, 17, 30, 45, 62, 80, 95} {
		if got := img.At(l.px(x), l.py(l.left, x)); !sameColor(got, red) {
			t.Errorf("rising line at x=%v: pixel (%d,%d) is %v, want %v", x, l.px(x), l.py(l.left, x), got, red)
		}
		y := 10 - x/10
		if x == 45 { // where the lines cross, the later series is on top
			continue
		}
		if got := img.At(l.px(x), l.py(l.right, y)); !sameColor(got, blue) {
			t.Errorf("falling line at x=%v: pixel (%d,%d) is %v, want %v", x, l.px(x), l.py(l.right, y), got, blue)
		}
	}
	// And not where the data is not: well away from both lines, inside
	// the plot, there is no series colour.
	for _, p := range []Point{{10, 80}, {80, 15}, {50, 95}} {
		px, py := l.px(p.X), l.py(l.left, p.Y)
		if got := img.At(px, py); sameColor(got, red) || sameColor(got, blue) {
			t.Errorf("pixel (%d,%d), far from the lines, has a series colour %v", px, py, got)
		}
	}
	// Both colours appear in the legend too.
	if countColor(img, red) < 100 || countColor(img, blue) < 100 {
		t.Error("a series colour barely appears in the image")
	}
}

func sameColor(c color.Color, want color.RGBA) bool {
	r, g, b, a := c.RGBA()
	wr, wg, wb, wa := want.RGBA()
	return r == wr && g == wg && b == wb && a == wa
}

func countColor(img image.Image, want color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if sameColor(img.At(x, y), want) {
				n++
			}
		}
	}
	return n
}

// Degenerate data renders without panicking: no series, empty series, a
// single point (drawn as a dot), all zeros (no division by a zero range),
// NaN and infinite points, and values far outside a fixed axis.
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
	l, err := c.layout()
	if err != nil {
		t.Fatal(err)
	}
	img := render(t, c)
	if got := img.At(l.px(3), l.py(l.left, 7)); !sameColor(got, green) {
		t.Errorf("single point: pixel is %v, want %v", got, green)
	}
	// All zeros: the axis is 0..1, not 0..0.
	l, err = cases["all zero"].layout()
	if err != nil {
		t.Fatal(err)
	}
	if l.left.lo != 0 || l.left.hi != 1 || l.right.hi != 1 {
		t.Errorf("all-zero axes %v..%v and %v..%v, want 0..1", l.left.lo, l.left.hi, l.right.lo, l.right.hi)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRenderReportsWriteErrors(t *testing.T) {
	if err := (&Chart{}).Render(failingWriter{}); err == nil {
		t.Error("a failed write was not reported")
	}
}
