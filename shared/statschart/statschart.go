// Package statschart draws the authority's chart of a range of days: the
// codes issued, reissued, suspended and cancelled each day, with the
// busiest day of reissues marked and its figure written beside it, so a
// surge (298,742 reissues on 1 Dec 2025 against a few hundred on the days
// around it) is seen at a glance. It is drawn with gonum.org/v1/plot.
//
// The labels are Korean (with the column names in brackets, for readers
// of the CSV), in NanumGothic, which the package carries (fonts/, with its
// SIL Open Font License): a Lambda has no system fonts, and plot's own
// Liberation fonts have no Hangul. The font is 4.7 MB of the binary of the
// function and the command that draw the chart; nothing else links it.
//
// The chart is deterministic: the same days give the same PNG bytes (no
// time of drawing in it). It shows counts only.
package statschart

import (
	_ "embed"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/image/font/opentype"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/pccc/pccc/shared/stats"
)

//go:embed fonts/NanumGothic.ttf
var nanumGothic []byte

// typeface is the name the font is registered under in the chart's own
// font cache.
const typeface = font.Typeface("NanumGothic")

var (
	fontsOnce sync.Once
	fonts     *font.Cache
	fontsErr  error
)

func hangul() (*font.Cache, error) {
	fontsOnce.Do(func() {
		f, err := opentype.Parse(nanumGothic)
		if err != nil {
			fontsErr = fmt.Errorf("statschart: NanumGothic: %w", err)
			return
		}
		fonts = font.NewCache(font.Collection{{Font: font.Font{Typeface: typeface}, Face: f}})
	})
	return fonts, fontsErr
}

// Line is one series of the chart.
type Line struct {
	Kind  stats.Kind
	Label string
	Color color.RGBA
}

// Lines are the series drawn, in legend order.
var Lines = []Line{
	{stats.Issued, "발급 (issued)", color.RGBA{R: 30, G: 110, B: 220, A: 255}},
	{stats.Reissued, "재발급 (reissued)", color.RGBA{R: 215, G: 50, B: 40, A: 255}},
	{stats.Suspended, "정지 (suspended)", color.RGBA{R: 235, G: 150, B: 20, A: 255}},
	{stats.Cancelled, "해지 (cancelled)", color.RGBA{R: 90, G: 90, B: 90, A: 255}},
}

// Size of the PNG.
const (
	Width  = 30 * vg.Centimeter
	Height = 15 * vg.Centimeter
	DPI    = 96
)

// dayX is a day's position on the X axis: its midnight, in seconds, as
// UTC (the tick labels are then the day itself, whatever the zone).
func dayX(day string) float64 {
	t, _ := time.Parse("2006-01-02", day)
	return float64(t.Unix())
}

// PNG draws the chart of days (in order) and writes it as a PNG.
func PNG(w io.Writer, days []stats.Daily) error {
	if len(days) == 0 {
		return fmt.Errorf("statschart: no days")
	}
	cache, err := hangul()
	if err != nil {
		return err
	}
	p := plot.New()
	styled := func(s *text.Style, size vg.Length) {
		s.Font = font.Font{Typeface: typeface, Size: size}
		s.Handler = text.Plain{Fonts: cache}
	}
	first, last := days[0].Day, days[len(days)-1].Day
	p.Title.Text = fmt.Sprintf("일별 통관부호 발급·재발급·정지·해지  %s – %s", first, last)
	styled(&p.Title.TextStyle, 14)
	p.Title.Padding = vg.Points(8)
	p.X.Label.Text = "일자 (KST)"
	p.Y.Label.Text = "건수"
	for _, s := range []*text.Style{&p.X.Label.TextStyle, &p.Y.Label.TextStyle} {
		styled(s, 11)
	}
	styled(&p.X.Tick.Label, 9)
	styled(&p.Y.Tick.Label, 9)
	styled(&p.Legend.TextStyle, 10)
	p.Legend.Top, p.Legend.Left = true, true
	// NanumGothic's line gap is most of its descent: without padding the
	// legend's rows touch.
	p.Legend.Padding = vg.Points(5)
	p.Legend.XOffs = vg.Points(8)
	p.Y.Min = 0
	p.Y.Tick.Marker = thousands{}
	p.X.Tick.Marker = dayTicks{days: days}
	p.Add(plotter.NewGrid())

	var peak struct {
		day string
		n   int64
		x   float64
	}
	for _, l := range Lines {
		pts := make(plotter.XYs, len(days))
		for i, d := range days {
			pts[i] = plotter.XY{X: dayX(d.Day), Y: float64(d.Counts[l.Kind])}
			if l.Kind == stats.Reissued && d.Counts[l.Kind] > peak.n {
				peak.day, peak.n, peak.x = d.Day, d.Counts[l.Kind], pts[i].X
			}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("statschart: %s: %w", l.Kind, err)
		}
		line.Color, line.Width = l.Color, vg.Points(1.6)
		p.Add(line)
		entry := []plot.Thumbnailer{line}
		if len(days) <= 62 {
			// Few enough days to mark each one.
			marks, _ := plotter.NewScatter(pts)
			marks.GlyphStyle = draw.GlyphStyle{Color: l.Color, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
			p.Add(marks)
		}
		p.Legend.Add(l.Label, entry...)
	}
	if peak.n > 0 {
		// The busiest day of reissues, ringed and labelled.
		ring, _ := plotter.NewScatter(plotter.XYs{{X: peak.x, Y: float64(peak.n)}})
		ring.GlyphStyle = draw.GlyphStyle{Color: Lines[1].Color, Radius: vg.Points(6), Shape: draw.RingGlyph{}}
		p.Add(ring)
		labels, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    []plotter.XY{{X: peak.x, Y: float64(peak.n)}},
			Labels: []string{fmt.Sprintf("  최다 재발급 %s: %s건", peak.day, groupDigits(peak.n))},
		})
		if err == nil {
			for i := range labels.TextStyle {
				styled(&labels.TextStyle[i], 10)
				labels.TextStyle[i].Color = color.RGBA{R: 40, G: 40, B: 40, A: 255}
				// Keep the label inside the plot: to the left of a peak in
				// the right half.
				if peak.x > (dayX(first)+dayX(last))/2 {
					labels.TextStyle[i].XAlign = text.XRight
					labels.Labels[i] = fmt.Sprintf("최다 재발급 %s: %s건  ", peak.day, groupDigits(peak.n))
				}
				labels.TextStyle[i].YAlign = text.YCenter
			}
			p.Add(labels)
		}
		// Headroom above the peak for its label.
		p.Y.Max = float64(peak.n) * 1.1
	}
	if first == last {
		p.X.Min, p.X.Max = dayX(first)-43200, dayX(first)+43200
	}
	if p.Y.Max <= p.Y.Min {
		p.Y.Max = 1
	}

	img := vgimg.NewWith(vgimg.UseWH(Width, Height), vgimg.UseDPI(DPI))
	p.Draw(draw.New(img))
	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// thousands labels the count axis with grouped digits (298,742).
type thousands struct{}

func (thousands) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = groupDigits(int64(math.Round(ticks[i].Value)))
		}
	}
	return ticks
}

// dayTicks labels about eight days evenly spread over the range (every
// day when there are few), first and last included.
type dayTicks struct{ days []stats.Daily }

func (t dayTicks) Ticks(lo, hi float64) []plot.Tick {
	n := len(t.days)
	step := max(1, (n+7)/8)
	out := make([]plot.Tick, 0, n)
	for i := range n {
		x := dayX(t.days[i].Day)
		// Counted back from the last day, so the last is always labelled
		// and the labels are evenly spaced.
		if (n-1-i)%step == 0 {
			out = append(out, plot.Tick{Value: x, Label: t.days[i].Day})
		} else if n <= 62 {
			out = append(out, plot.Tick{Value: x})
		}
	}
	return out
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
