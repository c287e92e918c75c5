// Package chart owns the PNG line charts of make bench: series of (x, y)
// points drawn against a numeric X axis and up to two Y axes (left for
// rates in req/s, right for something of another scale, such as queue
// depth), with nice tick values, a legend and a title. It uses only the
// standard library, text included (a built-in 5x7 bitmap font), so the
// benchmark report needs no plotting dependency and renders the same
// everywhere.
package chart

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math"
)

// Point is one data point.
type Point struct{ X, Y float64 }

// Side picks the Y axis a series is drawn against.
type Side int

const (
	Left  Side = iota // the default
	Right             // drawn only when some series uses it
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
)

// Layout, in pixels.
const (
	textScale  = 2 // labels, ticks and legend: 10x14 glyphs plus descenders
	titleScale = 3
	pad        = 12 // space between the image edge and everything
	gap        = 6  // space between a label and what it labels
	tickLen    = 6
	tickCount  = 5 // Ticks' n: about five values per axis
	swatchW    = 28
	lineRadius = 1 // lines are 2*lineRadius+1 pixels thick
	dotRadius  = 3
)

var (
	white     = color.RGBA{255, 255, 255, 255}
	ink       = color.RGBA{40, 40, 40, 255}
	gridColor = color.RGBA{225, 225, 225, 255}
	// palette is for series without a colour: distinct hues that stay
	// distinguishable for the common forms of colour blindness.
	palette = []color.RGBA{
		{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
		{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
		{188, 189, 34, 255}, {23, 190, 207, 255},
	}
)

// Render draws the chart and writes it as a PNG.
func (c *Chart) Render(w io.Writer) error {
	img, err := c.draw()
	if err != nil {
		return err
	}
	return png.Encode(w, img)
}

// draw lays the chart out and paints it, in the order that lets later
// layers cover earlier ones: grid, data, frame, labels, legend.
func (c *Chart) draw() (*image.RGBA, error) {
	l, err := c.layout()
	if err != nil {
		return nil, err
	}
	img := image.NewRGBA(image.Rect(0, 0, l.w, l.h))
	draw.Draw(img, img.Rect, image.NewUniform(white), image.Point{}, draw.Src)

	// Grid lines follow the primary Y axis only: two sets of independent
	// ticks would crisscross. The right axis is read from its labels.
	primary := l.left
	if !l.hasLeft {
		primary = l.right
	}
	for _, t := range primary.ticks {
		y := l.py(primary, t)
		fillRect(img, image.Rect(l.plot.Min.X, y, l.plot.Max.X, y+1), gridColor)
	}
	for _, t := range l.x.ticks {
		x := l.px(t)
		fillRect(img, image.Rect(x, l.plot.Min.Y, x+1, l.plot.Max.Y), gridColor)
	}

	for _, s := range l.series {
		l.drawSeries(img, s)
	}

	drawFrame(img, l.plot, ink)
	l.drawAxes(img, c)

	if c.Title != "" {
		tw := textWidth(c.Title, titleScale)
		drawText(img, (l.w-tw)/2, pad, c.Title, titleScale, ink)
	}
	for _, it := range l.legend {
		mid := it.y + textHeight(textScale)/2
		fillRect(img, image.Rect(it.x, mid-lineRadius-1, it.x+swatchW, mid+lineRadius+2), it.color)
		drawText(img, it.x+swatchW+gap, it.y, it.label, textScale, ink)
	}
	return img, nil
}

// scale maps one axis' data range onto pixels.
type scale struct {
	lo, hi float64 // hi > lo always
	ticks  []float64
}

func (s scale) frac(v float64) float64 { return (v - s.lo) / (s.hi - s.lo) }

// label formats tick v for this axis.
func (s scale) label(v float64) string {
	step := 1.0
	if len(s.ticks) > 1 {
		step = s.ticks[1] - s.ticks[0]
	}
	return formatTick(v, step, math.Max(math.Abs(s.lo), math.Abs(s.hi)))
}

func (s scale) maxLabelWidth() int {
	w := 0
	for _, t := range s.ticks {
		w = max(w, textWidth(s.label(t), textScale))
	}
	return w
}

// fitScale builds an axis' scale: the fixed range if one is given,
// otherwise the data's range, widened to nice ticks.
func fitScale(values []float64, fixedLo, fixedHi float64, includeZero bool) scale {
	if fixedLo < fixedHi && !math.IsInf(fixedLo, 0) && !math.IsInf(fixedHi, 0) {
		s := scale{lo: fixedLo, hi: fixedHi}
		// Keep only the ticks inside a fixed range; a tick a hair outside
		// (by rounding) still counts as inside.
		eps := (fixedHi - fixedLo) * 1e-9
		for _, t := range Ticks(fixedLo, fixedHi, tickCount) {
			if t >= fixedLo-eps && t <= fixedHi+eps {
				s.ticks = append(s.ticks, t)
			}
		}
		return s
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if lo > hi { // no data
		lo, hi = 0, 1
	}
	if includeZero {
		lo, hi = math.Min(lo, 0), math.Max(hi, 0)
	}
	t := Ticks(lo, hi, tickCount)
	if len(t) < 2 { // values too large to space ticks in
		lo, hi = widen(lo, hi)
		return scale{lo: lo, hi: hi, ticks: []float64{lo, hi}}
	}
	return scale{lo: t[0], hi: t[len(t)-1], ticks: t}
}

type legendItem struct {
	x, y  int
	label string
	color color.RGBA
}

// layout is where everything goes: margins sized to the labels that
// fill them, the plot area in between, and the scales.
type layout struct {
	w, h              int
	plot              image.Rectangle
	x, left, right    scale
	hasLeft, hasRight bool
	series            []Series // colours resolved
	legend            []legendItem
}

func (c *Chart) layout() (*layout, error) {
	l := &layout{w: c.Width, h: c.Height}
	if l.w == 0 {
		l.w = DefaultWidth
	}
	if l.h == 0 {
		l.h = DefaultHeight
	}
	if l.w < 0 || l.h < 0 || l.w > MaxSide || l.h > MaxSide {
		return nil, fmt.Errorf("chart: size %dx%d outside 1..%d", l.w, l.h, MaxSide)
	}

	var xs, lefts, rights []float64
	for i, s := range c.Series {
		if s.Color == (color.RGBA{}) {
			s.Color = palette[i%len(palette)]
		}
		s.Color.A = 255
		l.series = append(l.series, s)
		for _, p := range s.Points {
			if !finite(p) {
				continue
			}
			xs = append(xs, p.X)
			if s.Axis == Right {
				rights = append(rights, p.Y)
				l.hasRight = true
			} else {
				lefts = append(lefts, p.Y)
				l.hasLeft = true
			}
		}
		// An axis is in use when a series is assigned to it, even one with
		// no points yet, so the chart's shape does not depend on the data.
		if s.Axis == Right {
			l.hasRight = true
		} else {
			l.hasLeft = true
		}
	}
	if !l.hasRight {
		l.hasLeft = true // an empty chart still gets an axis
	}
	l.x = fitScale(xs, 0, 0, false)
	l.left = fitScale(lefts, c.Left.Min, c.Left.Max, true)
	l.right = fitScale(rights, c.Right.Min, c.Right.Max, true)

	th := textHeight(textScale)
	top := pad
	if c.Title != "" {
		top += textHeight(titleScale) + pad
	}
	top = l.placeLegend(top, c)

	bottom := pad + th + gap + tickLen
	if c.XLabel != "" {
		bottom += th + gap
	}
	left := pad
	if l.hasLeft {
		left += l.left.maxLabelWidth() + gap + tickLen
		if c.Left.Label != "" {
			left += th + gap
		}
	}
	// Without a right axis the margin still has to hold half of the last
	// X label, which is centred on the plot's right edge.
	right := max(pad, textWidth(l.x.label(l.x.hi), textScale)/2+pad/2)
	if l.hasRight {
		right = pad + l.right.maxLabelWidth() + gap + tickLen
		if c.Right.Label != "" {
			right += th + gap
		}
	}
	// Checked before image.Rect, which would swap inverted corners.
	if l.w-right-left < 2 || l.h-bottom-top < 2 {
		return nil, fmt.Errorf("chart: %dx%d is too small for its labels", l.w, l.h)
	}
	l.plot = image.Rect(left, top, l.w-right, l.h-bottom)
	return l, nil
}

// placeLegend flows the legend entries left to right from y, wrapping
// at the image width, and returns the y below them.
func (l *layout) placeLegend(y int, c *Chart) int {
	if len(l.series) == 0 {
		return y
	}
	rowH := textHeight(textScale) + gap
	x := pad
	for i, s := range l.series {
		label := s.Name
		if label == "" {
			label = fmt.Sprintf("series %d", i+1)
		}
		if s.Axis == Right && l.hasLeft {
			label += " (right)"
		}
		w := swatchW + gap + textWidth(label, textScale)
		if x > pad && x+w > l.w-pad {
			x, y = pad, y+rowH
		}
		l.legend = append(l.legend, legendItem{x: x, y: y, label: label, color: s.Color})
		x += w + 3*gap
	}
	// Below the last row, room for the top Y tick label, which is centred
	// on the plot's top edge.
	return y + rowH + gap + textHeight(textScale)/2
}

func finite(p Point) bool {
	return !math.IsNaN(p.X) && !math.IsNaN(p.Y) && !math.IsInf(p.X, 0) && !math.IsInf(p.Y, 0)
}

// fx and fy map data to fractional pixel coordinates; px and py round
// them. The first and last pixel rows and columns of the plot are the
// ends of each axis.
func (l *layout) fx(v float64) float64 {
	return float64(l.plot.Min.X) + l.x.frac(v)*float64(l.plot.Dx()-1)
}

func (l *layout) fy(s scale, v float64) float64 {
	return float64(l.plot.Max.Y-1) - s.frac(v)*float64(l.plot.Dy()-1)
}

func (l *layout) px(v float64) int          { return int(math.Round(l.fx(v))) }
func (l *layout) py(s scale, v float64) int { return int(math.Round(l.fy(s, v))) }
func (l *layout) scaleOf(s Series) scale {
	if s.Axis == Right {
		return l.right
	}
	return l.left
}

func (l *layout) drawSeries(img *image.RGBA, s Series) {
	sc := l.scaleOf(s)
	pts := s.Points
	for i, p := range pts {
		if !finite(p) {
			continue
		}
		x, y := l.fx(p.X), l.fy(sc, p.Y)
		hasPrev := i > 0 && finite(pts[i-1])
		hasNext := i+1 < len(pts) && finite(pts[i+1])
		if hasPrev {
			q := pts[i-1]
			drawLine(img, l.plot, l.fx(q.X), l.fy(sc, q.Y), x, y, lineRadius, s.Color)
		}
		if !hasPrev && !hasNext {
			drawLine(img, l.plot, x, y, x, y, dotRadius, s.Color)
		}
	}
}

// drawAxes draws tick marks, tick labels and axis titles.
func (l *layout) drawAxes(img *image.RGBA, c *Chart) {
	th := textHeight(textScale)
	for _, t := range l.x.ticks {
		x := l.px(t)
		fillRect(img, image.Rect(x, l.plot.Max.Y, x+1, l.plot.Max.Y+tickLen), ink)
		s := l.x.label(t)
		drawText(img, x-textWidth(s, textScale)/2, l.plot.Max.Y+tickLen+gap, s, textScale, ink)
	}
	if c.XLabel != "" {
		y := l.plot.Max.Y + tickLen + gap + th + gap
		drawText(img, l.plot.Min.X+(l.plot.Dx()-textWidth(c.XLabel, textScale))/2, y, c.XLabel, textScale, ink)
	}
	// Axis titles read bottom to top, centred on the plot's height.
	midY := func(s string) int { return l.plot.Min.Y + (l.plot.Dy()+textWidth(s, textScale))/2 }
	if l.hasLeft {
		for _, t := range l.left.ticks {
			y := l.py(l.left, t)
			fillRect(img, image.Rect(l.plot.Min.X-tickLen, y, l.plot.Min.X, y+1), ink)
			s := l.left.label(t)
			drawText(img, l.plot.Min.X-tickLen-gap-textWidth(s, textScale), y-th/2, s, textScale, ink)
		}
		if c.Left.Label != "" {
			drawTextUp(img, pad, midY(c.Left.Label), c.Left.Label, textScale, ink)
		}
	}
	if l.hasRight {
		for _, t := range l.right.ticks {
			y := l.py(l.right, t)
			fillRect(img, image.Rect(l.plot.Max.X, y, l.plot.Max.X+tickLen, y+1), ink)
			drawText(img, l.plot.Max.X+tickLen+gap, y-th/2, l.right.label(t), textScale, ink)
		}
		if c.Right.Label != "" {
			drawTextUp(img, l.w-pad-th, midY(c.Right.Label), c.Right.Label, textScale, ink)
		}
	}
}

// drawFrame outlines r one pixel inside its bounds.
func drawFrame(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	fillRect(img, image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+1), c)
	fillRect(img, image.Rect(r.Min.X, r.Max.Y-1, r.Max.X, r.Max.Y), c)
	fillRect(img, image.Rect(r.Min.X, r.Min.Y, r.Min.X+1, r.Max.Y), c)
	fillRect(img, image.Rect(r.Max.X-1, r.Min.Y, r.Max.X, r.Max.Y), c)
}

// drawLine draws a segment with a square brush of the given radius,
// clipped to clip. It clips the segment geometrically first, so a point
// far off the axis (a fixed range, a wild value) cannot make the
// rasteriser walk millions of pixels outside the image.
func drawLine(img *image.RGBA, clip image.Rectangle, x0, y0, x1, y1 float64, radius int, c color.RGBA) {
	ax, ay, bx, by, ok := clipSegment(x0, y0, x1, y1,
		float64(clip.Min.X), float64(clip.Min.Y), float64(clip.Max.X-1), float64(clip.Max.Y-1))
	if !ok {
		return
	}
	// Bresenham, all octants.
	xa, ya := int(math.Round(ax)), int(math.Round(ay))
	xb, yb := int(math.Round(bx)), int(math.Round(by))
	dx, dy := abs(xb-xa), -abs(yb-ya)
	sx, sy := sign(xb-xa), sign(yb-ya)
	e := dx + dy
	for {
		fillRect(img, image.Rect(xa-radius, ya-radius, xa+radius+1, ya+radius+1).Intersect(clip), c)
		if xa == xb && ya == yb {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			xa += sx
		}
		if e2 <= dx {
			e += dx
			ya += sy
		}
	}
}

// clipSegment clips a segment to a rectangle (Liang–Barsky): the part of
// it inside, or ok false when none is.
func clipSegment(x0, y0, x1, y1, xmin, ymin, xmax, ymax float64) (ax, ay, bx, by float64, ok bool) {
	for _, v := range []float64{x0, y0, x1, y1} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, 0, 0, 0, false
		}
	}
	dx, dy := x1-x0, y1-y0
	t0, t1 := 0.0, 1.0
	for _, e := range [4][2]float64{{-dx, x0 - xmin}, {dx, xmax - x0}, {-dy, y0 - ymin}, {dy, ymax - y0}} {
		p, q := e[0], e[1]
		if p == 0 {
			if q < 0 { // parallel to this edge and outside it
				return 0, 0, 0, 0, false
			}
			continue
		}
		r := q / p
		if p < 0 {
			if r > t1 {
				return 0, 0, 0, 0, false
			}
			t0 = math.Max(t0, r)
		} else {
			if r < t0 {
				return 0, 0, 0, 0, false
			}
			t1 = math.Min(t1, r)
		}
	}
	return x0 + t0*dx, y0 + t0*dy, x0 + t1*dx, y0 + t1*dy, true
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func sign(v int) int {
	switch {
	case v < 0:
		return -1
	case v > 0:
		return 1
	}
	return 0
}
