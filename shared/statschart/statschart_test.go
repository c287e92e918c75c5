package statschart

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/stats"
)

var update = flag.Bool("update", false, "rewrite the README's chart (STATS-SURGE.png) from the fixture")

// Surge is November and December 2025 as the fixture has them: a few
// hundred reissues a day, and 298,742 on 1 December.
func Surge() []stats.Daily {
	var days []stats.Daily
	start := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 61 {
		d := start.AddDate(0, 0, i)
		f := stats.Figures{
			stats.Issued:    int64(900 + (i*37)%200),
			stats.Reissued:  int64(280 + (i*53)%60),
			stats.Suspended: int64(40 + (i*17)%25),
			stats.Cancelled: int64(60 + (i*29)%30),
		}
		switch d.Format("2006-01-02") {
		case "2025-12-01":
			f[stats.Reissued], f[stats.Suspended], f[stats.Issued] = 298742, 12480, 2310
		case "2025-12-02":
			f[stats.Reissued], f[stats.Suspended] = 96530, 4120
		case "2025-12-03":
			f[stats.Reissued] = 21400
		}
		days = append(days, stats.Daily{Day: d.Format("2006-01-02"), Counts: f})
	}
	return days
}

func render(t *testing.T, days []stats.Daily) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := PNG(&b, days); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSurgeChart(t *testing.T) {
	b := render(t, Surge())
	if again := render(t, Surge()); !bytes.Equal(b, again) {
		t.Fatal("the same days drew other bytes")
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	wantW := int(Width.Dots(DPI) + 0.5)
	if img.Bounds().Dx() != wantW {
		t.Errorf("width %d, want %d", img.Bounds().Dx(), wantW)
	}
	// The reissue line climbs to the top of the plot on the surge day:
	// its colour is found in the top fifth of the image, and only around
	// one place across.
	top := redColumns(img, img.Bounds().Dy()/5)
	if len(top) == 0 {
		t.Fatal("no reissue line near the top: the surge is not visible")
	}
	if top[len(top)-1]-top[0] > img.Bounds().Dx()/8 {
		t.Errorf("reissue colour near the top spans x %d-%d: more than the surge", top[0], top[len(top)-1])
	}
	path := filepath.Join("..", "..", "STATS-SURGE.png")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(committed, b) {
		t.Errorf("STATS-SURGE.png is not the fixture's chart (%v): go test ./shared/statschart -run TestSurgeChart -update", err)
	}
}

// redColumns are the x of the pixels of the reissue colour in the top
// rows, right of the legend.
func redColumns(img image.Image, rows int) []int {
	want := Lines[1].Color
	var xs []int
	for x := img.Bounds().Dx() / 4; x < img.Bounds().Max.X; x++ {
		for y := 0; y < rows; y++ {
			if near(img.At(x, y), want) {
				xs = append(xs, x)
				break
			}
		}
	}
	return xs
}

func near(c color.Color, want color.RGBA) bool {
	r, g, b, _ := c.RGBA()
	d := func(a uint32, b uint8) int { v := int(a>>8) - int(b); return max(v, -v) }
	return d(r, want.R) < 12 && d(g, want.G) < 12 && d(b, want.B) < 12
}

func TestDegenerateRanges(t *testing.T) {
	if err := PNG(&bytes.Buffer{}, nil); err == nil {
		t.Error("no days drew a chart")
	}
	quiet := []stats.Daily{{Day: "2025-12-01", Counts: stats.Figures{}}}
	if _, err := png.Decode(bytes.NewReader(render(t, quiet))); err != nil {
		t.Errorf("one quiet day: %v", err)
	}
	var year []stats.Daily
	for i := range stats.MaxRange {
		year = append(year, stats.Daily{Day: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i).Format("2006-01-02"), Counts: stats.Figures{stats.Issued: int64(i)}})
	}
	if _, err := png.Decode(bytes.NewReader(render(t, year))); err != nil {
		t.Errorf("a year: %v", err)
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 298742: "298,742", -1234567: "-1,234,567"} {
		if got := groupDigits(n); got != want {
			t.Errorf("groupDigits(%d) = %s", n, got)
		}
	}
}
