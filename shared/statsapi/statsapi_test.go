package statsapi

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/stats"
	"github.com/pccc/pccc/shared/statsexport"
)

// 10:00 KST on 31 Dec 2025.
var now = time.Date(2025, 12, 31, 1, 0, 0, 0, time.UTC)

func TestParseRange(t *testing.T) {
	tests := []struct {
		from, to, format string
		days             int
		bad              []string // the fields a 400 names
	}{
		{"2025-12-01", "2025-12-31", "csv", 31, nil},
		{"2025-12-01", "2025-12-01", "", 1, nil},
		{"2025-01-01", "2025-12-31", "png", 365, nil},
		{"2024-12-31", "2025-12-31", "json", 366, nil},
		{"2024-12-30", "2025-12-31", "json", 0, []string{"to"}}, // 367 days
		{"2025-12-31", "2025-12-01", "csv", 0, []string{"to"}},  // reversed
		{"2025-12-01", "2026-01-01", "csv", 0, []string{"to"}},  // tomorrow in Korea
		{"2025-13-01", "2025-12-01", "csv", 0, []string{"from"}},
		{"", "", "xml", 0, []string{"from", "to", "format"}},
		{"2025-12-01", "31/12/2025", "csv", 0, []string{"to"}},
		{"2025-12-01", "2025-12-02", "PNG", 0, []string{"format"}},
	}
	for _, tt := range tests {
		rg, err := ParseRange(tt.from, tt.to, tt.format, now)
		if tt.bad == nil {
			if err != nil || len(rg.Days) != tt.days || rg.Days[0] != tt.from || rg.Days[len(rg.Days)-1] != tt.to {
				t.Errorf("ParseRange(%q, %q, %q) = %d days, %v", tt.from, tt.to, tt.format, len(rg.Days), err)
			}
			continue
		}
		e := apperr.As(err)
		if e.Code != apperr.Invalid || len(e.Fields) != len(tt.bad) {
			t.Errorf("ParseRange(%q, %q, %q): %v %v, want fields %v", tt.from, tt.to, tt.format, e.Code, e.Fields, tt.bad)
			continue
		}
		for _, f := range tt.bad {
			if e.Fields[f] == "" {
				t.Errorf("ParseRange(%q, %q, %q) does not name %s: %v", tt.from, tt.to, tt.format, f, e.Fields)
			}
		}
	}
	if rg, _ := ParseRange("2025-12-01", "2025-12-01", "", now); rg.Format != CSV {
		t.Errorf("default format %q", rg.Format)
	}
}

// Whatever comes in the query, the answer is a range or a 400 naming a
// field: never a panic, never another error.
func FuzzParseRange(f *testing.F) {
	f.Add("2025-12-01", "2025-12-31", "csv")
	f.Add("2024-02-29", "2025-02-28", "png")
	f.Add("0000-01-01", "9999-12-31", "json")
	f.Add("", "\x00", "csv\n")
	f.Fuzz(func(t *testing.T, from, to, format string) {
		rg, err := ParseRange(from, to, format, now)
		if err != nil {
			if e := apperr.As(err); e.Code != apperr.Invalid || len(e.Fields) == 0 {
				t.Fatalf("not a 400 naming a field: %v", err)
			}
			return
		}
		if len(rg.Days) < 1 || len(rg.Days) > stats.MaxRange {
			t.Fatalf("%d days", len(rg.Days))
		}
	})
}

type figures map[string]stats.Figures

func (f figures) Read(_ context.Context, days []string, _ bool) ([]stats.Daily, error) {
	var out []stats.Daily
	for _, d := range days {
		c := f[d]
		if c == nil {
			c = stats.Figures{}
		}
		out = append(out, stats.Daily{Day: d, Counts: c})
	}
	return out, nil
}

// A range's CSV rows are the daily files' rows, byte for byte.
func TestRenderIsTheExportsRows(t *testing.T) {
	f := figures{"2025-12-01": {stats.Reissued: 298742}}
	rg, _ := ParseRange("2025-11-30", "2025-12-02", "csv", now)
	r, err := Render(context.Background(), f, rg, false)
	if err != nil {
		t.Fatal(err)
	}
	days, _ := f.Read(context.Background(), []string{"2025-12-01"}, false)
	file := statsexport.DailyCSV(days, false)
	lines := bytes.Split(r.Body, []byte("\r\n"))
	if len(lines) != 5 || !bytes.Equal(append(append(lines[0], "\r\n"...), append(lines[2], "\r\n"...)...), file) {
		t.Errorf("range CSV %q; the day's file %q", r.Body, file)
	}
	if r.FileName != "pccc-stats-2025-11-30-2025-12-02.csv" || r.ContentType != "text/csv; charset=utf-8" {
		t.Errorf("%s %s", r.FileName, r.ContentType)
	}
	for _, format := range []string{"json", "png"} {
		rg.Format = format
		if r, err := Render(context.Background(), f, rg, false); err != nil || len(r.Body) == 0 {
			t.Errorf("%s: %v", format, err)
		}
	}
}
