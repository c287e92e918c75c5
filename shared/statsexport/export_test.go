package statsexport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pccc/pccc/shared/stats"
)

// Fakes of our own interfaces: the counters as a map, the bucket as a map
// that remembers the order of writes.
type figures map[string]stats.Daily

func (f figures) Read(_ context.Context, days []string, hourly bool) ([]stats.Daily, error) {
	out := make([]stats.Daily, 0, len(days))
	for _, d := range days {
		dy, ok := f[d]
		if !ok {
			dy = stats.Daily{Day: d, Counts: stats.Figures{}}
			for h := range dy.Hours {
				dy.Hours[h] = stats.Figures{}
			}
		}
		out = append(out, dy)
	}
	return out, nil
}

type bucket struct {
	objects map[string][]byte
	order   []string
}

func (b *bucket) Put(_ context.Context, key string, body []byte, _ string) error {
	if b.objects == nil {
		b.objects = map[string][]byte{}
	}
	b.objects[key] = slices.Clone(body)
	b.order = append(b.order, key)
	return nil
}

func (b *bucket) Exists(_ context.Context, key string) (bool, error) {
	_, ok := b.objects[key]
	return ok, nil
}

var surge = func() stats.Daily {
	d := stats.Daily{Day: "2025-12-01", Counts: stats.Figures{stats.Reissued: 30, stats.ReissuedLost: 30, stats.Issued: 2}}
	for h := range d.Hours {
		d.Hours[h] = stats.Figures{}
	}
	d.Hours[9] = stats.Figures{stats.Reissued: 20, stats.ReissuedLost: 20, stats.Issued: 2}
	d.Hours[23] = stats.Figures{stats.Reissued: 10, stats.ReissuedLost: 10}
	return d
}()

func exporter(f figures, b *bucket, now time.Time) *Exporter {
	return &Exporter{Stats: f, Bucket: b, Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestExportWritesTheDayThenItsManifest(t *testing.T) {
	now := time.Date(2025, 12, 1, 15, 15, 0, 0, time.UTC) // 00:15 KST on 2 Dec
	b := &bucket{}
	e := exporter(figures{"2025-12-01": surge}, b, now)
	res, err := e.Handle(context.Background(), json.RawMessage(`{"version":"0","detail-type":"Scheduled Event"}`))
	if err != nil {
		t.Fatal(err)
	}
	// Nothing was there: the whole week is filled, yesterday last.
	if len(res.Written) != 7 || res.Written[0] != "2025-11-25" || res.Written[6] != "2025-12-01" {
		t.Fatalf("written %v", res.Written)
	}
	prefix := "stats/daily/year=2025/month=12/day=01/"
	var ofDay []string
	for _, k := range b.order {
		if strings.HasPrefix(k, prefix) {
			ofDay = append(ofDay, strings.TrimPrefix(k, prefix))
		}
	}
	want := []string{"csv/pccc-stats-2025-12-01.csv", "json/pccc-stats-2025-12-01.json",
		"hourly-csv/pccc-stats-hourly-2025-12-01.csv", "hourly-json/pccc-stats-hourly-2025-12-01.json", "manifest.json"}
	if !slices.Equal(ofDay, want) {
		t.Fatalf("the day's writes %v, want %v (manifest last)", ofDay, want)
	}

	// The manifest lists each file's size, rows and hash.
	var m ManifestDoc
	if err := json.Unmarshal(b.objects[prefix+"manifest.json"], &m); err != nil {
		t.Fatal(err)
	}
	if m.Day != "2025-12-01" || len(m.Files) != 4 || !slices.Equal(m.Columns, Columns(false)) {
		t.Fatalf("manifest %+v", m)
	}
	for _, f := range m.Files {
		body := b.objects[prefix+f.Name]
		sum := sha256.Sum256(body)
		if f.Bytes != len(body) || f.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: manifest says %d bytes %s", f.Name, f.Bytes, f.SHA256)
		}
		if !strings.HasSuffix(f.Name, ".csv") {
			continue
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("%s is not CSV: %v", f.Name, err)
		}
		if len(rows)-1 != f.Rows || bytes.HasPrefix(body, []byte(bom)) || !bytes.Contains(body, []byte("\r\n")) {
			t.Errorf("%s: %d rows, manifest %d; BOM %v", f.Name, len(rows)-1, f.Rows, bytes.HasPrefix(body, []byte(bom)))
		}
	}

	// The figures: the daily row and the hourly rows.
	daily, _ := csv.NewReader(bytes.NewReader(b.objects[prefix+want[0]])).ReadAll()
	if !slices.Equal(daily[0], Columns(false)) {
		t.Fatalf("header %v", daily[0])
	}
	col := slices.Index(daily[0], string(stats.Reissued))
	if daily[1][0] != "2025-12-01" || daily[1][col] != "30" {
		t.Errorf("daily row %v", daily[1])
	}
	hourly, _ := csv.NewReader(bytes.NewReader(b.objects[prefix+want[2]])).ReadAll()
	if len(hourly) != 25 || hourly[10][1] != "09" || hourly[10][col+1] != "20" || hourly[24][1] != "23" || hourly[24][col+1] != "10" {
		t.Errorf("hourly rows %v", hourly[10])
	}
	var rows []map[string]any
	if err := json.Unmarshal(b.objects[prefix+want[1]], &rows); err != nil || len(rows) != 1 || rows[0]["reissued"] != 30.0 || rows[0]["day"] != "2025-12-01" {
		t.Errorf("daily JSON %v %v", rows, err)
	}

	// A quiet day is zeros, not nothing.
	quiet, _ := csv.NewReader(bytes.NewReader(b.objects["stats/daily/year=2025/month=11/day=25/csv/pccc-stats-2025-11-25.csv"])).ReadAll()
	if len(quiet) != 2 || quiet[1][col] != "0" {
		t.Errorf("a quiet day: %v", quiet)
	}

	// Again: the same bytes, and only yesterday is written.
	first := maps.Clone(b.objects)
	b.order = nil
	res, err = e.Run(context.Background(), "2025-12-01")
	if err != nil || !slices.Equal(res.Written, []string{"2025-12-01"}) || len(res.Present) != 6 {
		t.Fatalf("second run %+v, %v", res, err)
	}
	if !maps.EqualFunc(first, b.objects, bytes.Equal) {
		t.Error("a second run wrote other bytes")
	}

	// A missing earlier day is filled, the others left alone.
	delete(b.objects, "stats/daily/year=2025/month=11/day=28/manifest.json")
	res, _ = e.Run(context.Background(), "2025-12-01")
	if !slices.Equal(res.Written, []string{"2025-11-28", "2025-12-01"}) {
		t.Errorf("written %v, want the missing day and yesterday", res.Written)
	}
}

func TestExportRefusesADayNotOver(t *testing.T) {
	now := time.Date(2025, 12, 1, 14, 59, 0, 0, time.UTC) // 23:59 KST on 1 Dec
	e := exporter(figures{}, &bucket{}, now)
	for _, day := range []string{"2025-12-01", "2025-12-02", "1 Dec"} {
		if _, err := e.Run(context.Background(), day); err == nil {
			t.Errorf("%s exported at %v", day, now)
		}
	}
	if _, err := e.Run(context.Background(), "2025-11-30"); err != nil {
		t.Errorf("a finished day: %v", err)
	}
}

func TestExcelRendition(t *testing.T) {
	b := DailyCSV([]stats.Daily{surge}, true)
	if !bytes.HasPrefix(b, []byte(bom)) {
		t.Fatal("no BOM")
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte(bom)))).ReadAll()
	if err != nil || rows[0][0] != "일자" || rows[0][2] != "재발급" || rows[1][2] != "30" {
		t.Fatalf("excel rows %v %v", rows, err)
	}
	for i, k := range stats.Kinds() {
		if k.Korean() == "" {
			t.Errorf("%s has no Korean header", k)
		}
		if strings.ContainsAny(k.Korean(), ",\"\r\n") || strings.ContainsAny(string(k), ",\"\r\n") {
			t.Errorf("column %d needs quoting", i)
		}
	}
}

// The Glue tables' columns are the files' columns, in order.
func TestGlueTablesMatchTheColumns(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		Resources map[string]struct {
			Properties struct {
				TableInput struct {
					Parameters        map[string]string `yaml:"Parameters"`
					StorageDescriptor struct {
						Columns []struct {
							Name string `yaml:"Name"`
						} `yaml:"Columns"`
					} `yaml:"StorageDescriptor"`
				} `yaml:"TableInput"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	// Short tags (!Sub, !Ref) decode as their scalar.
	if err := doc.Decode(&tpl); err != nil {
		t.Fatal(err)
	}
	for id, hourly := range map[string]bool{"StatsDailyTable": false, "StatsHourlyTable": true} {
		ti := tpl.Resources[id].Properties.TableInput
		var names []string
		for _, c := range ti.StorageDescriptor.Columns {
			names = append(names, c.Name)
		}
		if !slices.Equal(names, Columns(hourly)) {
			t.Errorf("%s columns %v, the files' %v", id, names, Columns(hourly))
		}
		folder := "csv/"
		if hourly {
			folder = "hourly-csv/"
		}
		p := ti.Parameters
		if p["projection.enabled"] != "true" || p["projection.dt.type"] != "date" || !strings.HasSuffix(p["projection.dt.range"], ",NOW") ||
			!strings.HasSuffix(p["storage.location.template"], "/stats/daily/${!dt}/"+folder) {
			t.Errorf("%s projection %v", id, p)
		}
		// The projection's format names the folders Prefix writes.
		day := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
		if f := p["projection.dt.format"]; strings.NewReplacer("'", "", "yyyy", day.Format("2006"), "MM", day.Format("01"), "dd", day.Format("02")).Replace(f) != strings.TrimSuffix(strings.TrimPrefix(Prefix("2025-12-01"), "stats/daily/"), "/") {
			t.Errorf("%s format %q does not name %s", id, f, Prefix("2025-12-01"))
		}
	}
}

func TestParseDayReadsTheFilesBack(t *testing.T) {
	files := DayFiles(surge)
	got, err := ParseDay(files[0].Body, files[2].Body)
	if err != nil {
		t.Fatal(err)
	}
	if got.Day != surge.Day || !maps.Equal(got.Counts, surge.Counts) || !maps.Equal(got.Hours[9], surge.Hours[9]) || len(got.Hours[0]) != 0 {
		t.Errorf("read back %+v", got)
	}
	if _, err := ParseDay(DailyCSV([]stats.Daily{surge}, true), files[2].Body); err == nil {
		t.Error("the Excel rendition read as the plain one")
	}
}
