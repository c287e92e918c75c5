// Package statsexport renders the authority's statistics (shared/stats)
// as files and writes each finished day's files to the export bucket:
// the daily scheduled export (Exporter), and the renditions an on-demand
// range is answered with (CSV, JSON; the chart is statschart's).
//
// Every rendition is deterministic: the same figures give the same bytes
// (fixed column order, no time of writing inside a file), so a day written
// again is byte for byte the day written before. The files hold counts and
// days only; no person, code or key appears in them.
package statsexport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/pccc/pccc/shared/stats"
)

// Column names besides the kinds (stats.Kind values are the others).
const (
	ColDay  = "day"
	ColHour = "hour"
)

// bom is the UTF-8 byte-order mark Excel needs to read a CSV as UTF-8.
// Only the Excel rendition carries it: Athena would read it as part of
// the first column's name.
const bom = "\ufeff"

// Columns is the header of the daily rows, or of the hourly rows.
func Columns(hourly bool) []string {
	cols := []string{ColDay}
	if hourly {
		cols = append(cols, ColHour)
	}
	for _, k := range stats.Kinds() {
		cols = append(cols, string(k))
	}
	return cols
}

func koreanColumns(hourly bool) []string {
	cols := []string{"일자"}
	if hourly {
		cols = append(cols, "시")
	}
	for _, k := range stats.Kinds() {
		cols = append(cols, k.Korean())
	}
	return cols
}

// row is one day's (or one hour's) values in column order.
func row(day string, hour int, f stats.Figures) []string {
	out := []string{day}
	if hour >= 0 {
		out = append(out, fmt.Sprintf("%02d", hour))
	}
	for _, k := range stats.Kinds() {
		out = append(out, strconv.FormatInt(f[k], 10))
	}
	return out
}

// csvLines writes RFC 4180 lines (CRLF). No value needs quoting: days,
// hours and numbers, and headers of letters, digits, spaces, underscores
// and parentheses.
func csvLines(header []string, rows [][]string, excel bool) []byte {
	var b bytes.Buffer
	if excel {
		b.WriteString(bom)
	}
	for _, r := range append([][]string{header}, rows...) {
		b.WriteString(strings.Join(r, ","))
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// DailyCSV is one row per day, with a header of the column names (Korean
// ones and a byte-order mark for Excel when excel is set).
func DailyCSV(days []stats.Daily, excel bool) []byte {
	rows := make([][]string, 0, len(days))
	for _, d := range days {
		rows = append(rows, row(d.Day, -1, d.Counts))
	}
	return csvLines(header(false, excel), rows, excel)
}

// HourlyCSV is the 24 hourly rows of the days, in order.
func HourlyCSV(days []stats.Daily, excel bool) []byte {
	var rows [][]string
	for _, d := range days {
		for h := range 24 {
			rows = append(rows, row(d.Day, h, d.Hours[h]))
		}
	}
	return csvLines(header(true, excel), rows, excel)
}

func header(hourly, excel bool) []string {
	if excel {
		return koreanColumns(hourly)
	}
	return Columns(hourly)
}

// jsonRows writes a JSON array of one object a row, keys in column order
// (encoding/json would sort a map's keys; the column order is the
// contract), one row a line.
func jsonRows(cols []string, rows [][]string) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  {")
		for j, c := range cols {
			if j > 0 {
				b.WriteString(",")
			}
			name, _ := json.Marshal(c)
			b.Write(name)
			b.WriteString(":")
			if c == ColDay || c == ColHour {
				v, _ := json.Marshal(r[j])
				b.Write(v)
			} else {
				b.WriteString(r[j])
			}
		}
		b.WriteString("}")
	}
	if len(rows) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	return b.Bytes()
}

// DailyJSON is DailyCSV's rows as a JSON array of objects keyed by the
// column names (hour as "00"-"23", counts as numbers).
func DailyJSON(days []stats.Daily) []byte {
	rows := make([][]string, 0, len(days))
	for _, d := range days {
		rows = append(rows, row(d.Day, -1, d.Counts))
	}
	return jsonRows(Columns(false), rows)
}

// HourlyJSON is HourlyCSV's rows as JSON.
func HourlyJSON(days []stats.Daily) []byte {
	var rows [][]string
	for _, d := range days {
		for h := range 24 {
			rows = append(rows, row(d.Day, h, d.Hours[h]))
		}
	}
	return jsonRows(Columns(true), rows)
}

// Prefix is where a day's files live in the bucket:
// stats/daily/year=YYYY/month=MM/day=DD/ (Hive-style, as Athena's
// partition projection finds them).
func Prefix(day string) string {
	return fmt.Sprintf("stats/daily/year=%s/month=%s/day=%s/", day[0:4], day[5:7], day[8:10])
}

// File is one object of a day's export.
type File struct {
	// Name is the key under the day's Prefix.
	Name        string
	Body        []byte
	Rows        int
	ContentType string
}

// Each format has a folder of its own in the day's folder, so a table
// over one of them (Athena reads every object under a location) reads one
// kind of row only: daily CSV, hourly CSV. The JSON renditions and the
// manifest sit beside them for programs and people.
const (
	csvType  = "text/csv; charset=utf-8"
	jsonType = "application/json"
	// ManifestName is the manifest's key under the day's Prefix.
	ManifestName = "manifest.json"
)

// DayFiles are the files of one day: the daily and hourly rows as CSV and
// as JSON. The manifest (Manifest) lists them and is written after them.
func DayFiles(d stats.Daily) []File {
	one := []stats.Daily{d}
	return []File{
		{Name: "csv/pccc-stats-" + d.Day + ".csv", Body: DailyCSV(one, false), Rows: 1, ContentType: csvType},
		{Name: "json/pccc-stats-" + d.Day + ".json", Body: DailyJSON(one), Rows: 1, ContentType: jsonType},
		{Name: "hourly-csv/pccc-stats-hourly-" + d.Day + ".csv", Body: HourlyCSV(one, false), Rows: 24, ContentType: csvType},
		{Name: "hourly-json/pccc-stats-hourly-" + d.Day + ".json", Body: HourlyJSON(one), Rows: 24, ContentType: jsonType},
	}
}

// ManifestVersion is the manifest's format.
const ManifestVersion = 1

// ManifestEntry is one file as the manifest lists it.
type ManifestEntry struct {
	Name   string `json:"name"`
	Bytes  int    `json:"bytes"`
	Rows   int    `json:"rows"`
	SHA256 string `json:"sha256"`
}

// ManifestDoc is the manifest: the day, its files, and the columns of the
// rows (the daily ones; the hourly ones add "hour" after "day").
type ManifestDoc struct {
	Version int             `json:"version"`
	Day     string          `json:"day"`
	Columns []string        `json:"columns"`
	Files   []ManifestEntry `json:"files"`
}

// Manifest is the manifest of a day's files. A reader that finds it finds
// every file it lists whole: it is written last.
func Manifest(day string, files []File) File {
	doc := ManifestDoc{Version: ManifestVersion, Day: day, Columns: Columns(false)}
	for _, f := range files {
		sum := sha256.Sum256(f.Body)
		doc.Files = append(doc.Files, ManifestEntry{Name: f.Name, Bytes: len(f.Body), Rows: f.Rows, SHA256: hex.EncodeToString(sum[:])})
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return File{Name: ManifestName, Body: append(b, '\n'), Rows: 0, ContentType: jsonType}
}
