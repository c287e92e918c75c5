package statsexport

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"

	"github.com/pccc/pccc/shared/stats"
)

// ParseDay reads a day back from its daily and hourly CSV files (the
// plain renditions): what a check of the export compares with the table.
func ParseDay(daily, hourly []byte) (stats.Daily, error) {
	rows, err := readCSV(daily, Columns(false))
	if err != nil {
		return stats.Daily{}, fmt.Errorf("daily CSV: %w", err)
	}
	if len(rows) != 1 {
		return stats.Daily{}, fmt.Errorf("daily CSV: %d rows, want 1", len(rows))
	}
	d := stats.Daily{Day: rows[0][0], Counts: stats.Figures{}}
	if err := fill(d.Counts, rows[0][1:]); err != nil {
		return stats.Daily{}, fmt.Errorf("daily CSV: %w", err)
	}
	hrows, err := readCSV(hourly, Columns(true))
	if err != nil {
		return stats.Daily{}, fmt.Errorf("hourly CSV: %w", err)
	}
	if len(hrows) != 24 {
		return stats.Daily{}, fmt.Errorf("hourly CSV: %d rows, want 24", len(hrows))
	}
	for h, r := range hrows {
		if r[0] != d.Day || r[1] != fmt.Sprintf("%02d", h) {
			return stats.Daily{}, fmt.Errorf("hourly CSV: row %d is %s %s", h, r[0], r[1])
		}
		d.Hours[h] = stats.Figures{}
		if err := fill(d.Hours[h], r[2:]); err != nil {
			return stats.Daily{}, fmt.Errorf("hourly CSV: %w", err)
		}
	}
	return d, nil
}

func readCSV(b []byte, header []string) ([][]string, error) {
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || !slices.Equal(rows[0], header) {
		return nil, fmt.Errorf("not the header of the columns")
	}
	return rows[1:], nil
}

func fill(f stats.Figures, values []string) error {
	for i, k := range stats.Kinds() {
		n, err := strconv.ParseInt(values[i], 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if n != 0 {
			f[k] = n
		}
	}
	return nil
}
