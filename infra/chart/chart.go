// Package chart owns the PNG line charts of make bench: series of (x, y)
// points against a numeric X axis, on a left axis (rates in req/s) and,
// for something of another scale such as queue depth, a right one drawn
// as a panel of its own below the first, on the same X range. It is drawn
// with gonum.org/v1/plot (its Liberation fonts: the bench's labels are
// English).
package chart

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Point is one data point.
type Point struct{ X, Y float64 }

// Side picks the Y axis a series is drawn against.
type Side int

const (
	Left  Side = iota // the default
	Right             // drawn, in a panel below, only when some series uses it
)

// Series is one line. Points are joined in the order given; a NaN or
// infinite point breaks the line, and a point with no drawable neighbour
// is drawn as a dot so a single sample is still visible.
type Series struct {
	Name string
	// Color is drawn opaque; the zero value picks one from a palette by
	// the series' position.
	Color  color.RGBA
	Axis   Side
	Points []Point
}

// Axis describes a Y axis.
type Axis struct {
	Label string
	// Min and Max fix the range when Min < Max. Otherwise the range is
	// fitted to the axis' series, always including zero: a rate or a
	// queue depth read off an axis that starts above zero looks far
	// bigger, relatively, than it is.
	Min, Max float64
}

// Chart is a line chart. The zero value renders an empty 1200x600 chart.
type Chart struct {
	Title  string
	XLabel string
	Left   Axis
	Right  Axis
	Series []Series
	// Width and Height are in pixels; zero means 1200 and 600.
	Width, Height int
}

const (
	// DefaultWidth and DefaultHeight are the size of a chart that sets none.
	DefaultWidth, DefaultHeight = 1200, 600
	// MaxSide bounds the image so a typo cannot ask for gigabytes.
	MaxSide = 16384
	// MinSide is the smallest side that leaves room for the labels.
	MinSide = 200
	// dpi: a pixel is 0.75 points.
	dpi = 96
)

// palette is for series without a colour: distinct hues that stay
// distinguishable for the common forms of colour blindness.
var palette = []color.RGBA{
	{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
	{188, 189, 34, 255}, {23, 190, 207, 255},
}

func (c *Chart) size() (int, int, error) {
	w, h := c.Width, c.Height
	if w == 0 && h == 0 {
		w, h = DefaultWidth, DefaultHeight
	}
	if w < MinSide || h < MinSide || w > MaxSide || h > MaxSide {
		return 0, 0, fmt.Errorf("chart: %dx%d pixels; each side must be %d-%d", w, h, MinSide, MaxSide)
	}
	return w, h, nil
}

// panels builds the plots: the left axis' series, and below it the right
// axis' when any series uses it, on the same X range.
func (c *Chart) panels() ([]*plot.Plot, error) {
	hasRight := false
	for _, s := range c.Series {
		hasRight = hasRight || s.Axis == Right
	}
	top := newPanel(c.Title, c.Left.Label)
	panels := []*plot.Plot{top}
	var bottom *plot.Plot
	if hasRight {
		bottom = newPanel("", c.Right.Label)
		panels = append(panels, bottom)
	}
	panels[len(panels)-1].X.Label.Text = c.XLabel
	for i, s := range c.Series {
		col := s.Color
		if col == (color.RGBA{}) {
			col = palette[i%len(palette)]
		}
		p := top
		if s.Axis == Right {
			p = bottom
		}
		if err := addSeries(p, s, col); err != nil {
			return nil, err
		}
	}
	fitY(top, c.Left)
	if bottom != nil {
		fitY(bottom, c.Right)
		// One X range for both.
		lo, hi := math.Min(top.X.Min, bottom.X.Min), math.Max(top.X.Max, bottom.X.Max)
		for _, p := range panels {
			p.X.Min, p.X.Max = lo, hi
		}
	}
	for _, p := range panels {
		if p.X.Max <= p.X.Min {
			p.X.Min, p.X.Max = p.X.Min-0.5, p.X.Min+0.5
		}
	}
	return panels, nil
}

func newPanel(title, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.Y.Label.Text = yLabel
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), -vg.Points(4)
	for _, s := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle, &p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		s.Font.Variant = "Sans"
	}
	p.Add(plotter.NewGrid())
	return p
}

// addSeries draws s as lines between its finite points; a finite point
// between two breaks is a dot.
func addSeries(p *plot.Plot, s Series, col color.RGBA) error {
	style := draw.LineStyle{Color: col, Width: vg.Points(1.5)}
	var run plotter.XYs
	flush := func() error {
		switch len(run) {
		case 0:
		case 1:
			dot, err := plotter.NewScatter(run)
			if err != nil {
				return err
			}
			dot.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
			p.Add(dot)
		default:
			l, err := plotter.NewLine(run)
			if err != nil {
				return err
			}
			l.LineStyle = style
			p.Add(l)
		}
		run = nil
		return nil
	}
	for _, pt := range s.Points {
		if !finite(pt) {
			if err := flush(); err != nil {
				return err
			}
			continue
		}
		run = append(run, plotter.XY{X: pt.X, Y: pt.Y})
	}
	if err := flush(); err != nil {
		return err
	}
	if s.Name != "" {
		p.Legend.Add(s.Name, &plotter.Line{LineStyle: style})
	}
	return nil
}

func finite(p Point) bool {
	return !math.IsNaN(p.X) && !math.IsInf(p.X, 0) && !math.IsNaN(p.Y) && !math.IsInf(p.Y, 0)
}

// fitY fixes the Y range from a: as given, or the data's with zero.
func fitY(p *plot.Plot, a Axis) {
	if a.Min < a.Max {
		p.Y.Min, p.Y.Max = a.Min, a.Max
		return
	}
	p.Y.Min, p.Y.Max = math.Min(p.Y.Min, 0), math.Max(p.Y.Max, 0)
	if p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min + 1
	}
}

// Render draws the chart and writes it as a PNG.
func (c *Chart) Render(w io.Writer) error {
	img, _, err := c.draw()
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(w); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	return nil
}

// draw paints the chart and returns, beside the image, each panel's data
// area as drawn (for the tests to find points in).
func (c *Chart) draw() (*vgimg.Canvas, []area, error) {
	wpx, hpx, err := c.size()
	if err != nil {
		return nil, nil, err
	}
	panels, err := c.panels()
	if err != nil {
		return nil, nil, err
	}
	px := vg.Length(0.75) // points a pixel, at 96 dpi
	img := vgimg.NewWith(vgimg.UseWH(vg.Length(wpx)*px, vg.Length(hpx)*px), vgimg.UseDPI(dpi), vgimg.UseBackgroundColor(color.White))
	dc := draw.New(img)
	canvases := [][]draw.Canvas{{dc}}
	if len(panels) == 2 {
		canvases = plot.Align([][]*plot.Plot{{panels[0]}, {panels[1]}}, draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Points(6), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}, dc)
	}
	var areas []area
	for i, p := range panels {
		cv := canvases[i][0]
		if len(panels) == 1 {
			cv = draw.Crop(cv, vg.Points(4), -vg.Points(8), vg.Points(4), -vg.Points(4))
		}
		p.Draw(cv)
		areas = append(areas, area{p: p, c: p.DataCanvas(cv), h: float64(hpx)})
	}
	return img, areas, nil
}

// area maps data to pixels in one panel.
type area struct {
	p *plot.Plot
	c draw.Canvas
	h float64
}

// pixel is where (x, y) is drawn, in image pixels from the top left.
func (a area) pixel(x, y float64) (int, int) {
	tx, ty := a.p.Transforms(&a.c)
	return int(math.Round(tx(x).Dots(dpi))), int(math.Round(a.h - ty(y).Dots(dpi)))
}
