package statsexport

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/pccc/pccc/shared/stats"
)

// Reader reads the counters of days (dynamo.Stats).
type Reader interface {
	Read(ctx context.Context, days []string, hourly bool) ([]stats.Daily, error)
}

// Bucket is the export bucket (s3store.Bucket).
type Bucket interface {
	Put(ctx context.Context, key string, body []byte, contentType string) error
	Exists(ctx context.Context, key string) (bool, error)
}

// Exporter is the daily export. Each run writes the day before (whole:
// its files, then its manifest), and any of the Lookback days before that
// whose manifest is missing (a run that failed or never ran).
type Exporter struct {
	Stats  Reader
	Bucket Bucket
	Now    func() time.Time
	// Lookback is how many days up to the day before are looked at; default 7.
	Lookback int
	Log      *slog.Logger
}

// Input is the scheduled event's input. Day (YYYY-MM-DD) exports that day
// (and fills the missing days before it), for reruns; default: yesterday,
// the last Korean day that has fully passed.
type Input struct {
	Day string `json:"day"`
}

// Result is what one run did.
type Result struct {
	// Written are the days written, oldest first; Present the days found
	// already exported and left alone.
	Written []string `json:"written"`
	Present []string `json:"present"`
}

// Handle is the Lambda entry point; the event is the scheduler's (ignored)
// or an Input.
func (e *Exporter) Handle(ctx context.Context, ev json.RawMessage) (Result, error) {
	var in Input
	_ = json.Unmarshal(ev, &in) // a scheduled event has no "day": the default applies
	last := stats.Day(e.Now().Add(-24 * time.Hour))
	if in.Day != "" {
		last = in.Day
	}
	return e.Run(ctx, last)
}

// Run exports last, and the missing days of the lookback before it. A
// day not over yet is refused: its figures would change after the files.
func (e *Exporter) Run(ctx context.Context, last string) (Result, error) {
	end, err := stats.ParseDay(last)
	if err != nil {
		return Result{}, fmt.Errorf("stats export: %w", err)
	}
	if end.AddDate(0, 0, 1).After(e.Now()) {
		return Result{}, fmt.Errorf("stats export: %s is not over yet", last)
	}
	back := e.Lookback
	if back <= 0 {
		back = 7
	}
	var res Result
	var due []string
	for d := end.AddDate(0, 0, -(back - 1)); d.Before(end); d = d.AddDate(0, 0, 1) {
		day := d.Format("2006-01-02")
		ok, err := e.Bucket.Exists(ctx, Prefix(day)+ManifestName)
		if err != nil {
			return res, fmt.Errorf("stats export: look for %s: %w", day, err)
		}
		if ok {
			res.Present = append(res.Present, day)
		} else {
			due = append(due, day)
		}
	}
	// The day before is written every time: a second run writes the same
	// bytes, and a run after a partial one completes it.
	due = append(due, last)
	days, err := e.Stats.Read(ctx, due, true)
	if err != nil {
		return res, fmt.Errorf("stats export: %w", err)
	}
	for _, d := range days {
		if err := e.write(ctx, d); err != nil {
			return res, err
		}
		res.Written = append(res.Written, d.Day)
	}
	e.Log.InfoContext(ctx, "stats exported", "written", res.Written, "present", len(res.Present))
	return res, nil
}

// write puts a day's files, then the manifest that lists them.
func (e *Exporter) write(ctx context.Context, d stats.Daily) error {
	files := DayFiles(d)
	for _, f := range append(files, Manifest(d.Day, files)) {
		if err := e.Bucket.Put(ctx, Prefix(d.Day)+f.Name, f.Body, f.ContentType); err != nil {
			return fmt.Errorf("stats export: %s %s: %w", d.Day, f.Name, err)
		}
	}
	return nil
}
