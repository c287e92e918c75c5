// Package statsapi answers the authority's statistics for a range of days
// on demand: GET /v1/authority/stats for authority API keys, and the
// operator's pccc-authority stats (infra/authority), both through Query
// and Render, so the two and the daily files (shared/statsexport) give the
// same figures in the same bytes. It also builds the daily export's
// function (BuildExport).
package statsapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/stats"
	"github.com/pccc/pccc/shared/statschart"
	"github.com/pccc/pccc/shared/statsexport"
)

// RouteStats is the route, as template.yaml declares it.
const RouteStats = "GET /v1/authority/stats"

// Formats a range is rendered in.
const (
	CSV  = "csv"
	JSON = "json"
	PNG  = "png"
)

// Range is a validated request: the days, in order, and the format.
type Range struct {
	From, To string
	Days     []string
	Format   string
}

// ParseRange checks from, to (YYYY-MM-DD, Korean days, to not before from
// nor after today, at most stats.MaxRange days) and format (csv, json or
// png; csv when empty). Every bad one is named in one 400.
func ParseRange(from, to, format string, now time.Time) (Range, error) {
	bad := map[string]string{}
	a, errA := stats.ParseDay(from)
	b, errB := stats.ParseDay(to)
	switch {
	case from == "":
		bad["from"] = "is required (YYYY-MM-DD)"
	case errA != nil:
		bad["from"] = "must be a day as YYYY-MM-DD"
	}
	switch {
	case to == "":
		bad["to"] = "is required (YYYY-MM-DD)"
	case errB != nil:
		bad["to"] = "must be a day as YYYY-MM-DD"
	case errA == nil && b.Before(a):
		bad["to"] = "must not be before from"
	case errA == nil && b.Sub(a) >= stats.MaxRange*24*time.Hour:
		bad["to"] = fmt.Sprintf("must be at most %d days from from, both included", stats.MaxRange)
	case b.After(now):
		bad["to"] = "must not be after today (Korean time)"
	}
	if format == "" {
		format = CSV
	}
	switch format {
	case CSV, JSON, PNG:
	default:
		bad["format"] = "must be one of csv, json, png"
	}
	if len(bad) > 0 {
		return Range{}, apperr.InvalidFields(bad)
	}
	days, err := stats.Days(from, to, stats.MaxRange)
	if err != nil {
		return Range{}, apperr.InvalidField("to", err.Error())
	}
	return Range{From: from, To: to, Days: days, Format: format}, nil
}

// Reader reads the counters (dynamo.Stats).
type Reader interface {
	Read(ctx context.Context, days []string, hourly bool) ([]stats.Daily, error)
}

var _ Reader = (*dynamo.Stats)(nil)

// Rendition is a range rendered: the bytes, their type and a file name.
type Rendition struct {
	Body        []byte
	ContentType string
	FileName    string
}

// Render reads the range's days and renders them: the daily CSV rows
// (excel: with a BOM and Korean headers), the daily JSON, or the chart.
func Render(ctx context.Context, r Reader, rg Range, excel bool) (Rendition, error) {
	days, err := r.Read(ctx, rg.Days, false)
	if err != nil {
		return Rendition{}, err
	}
	name := fmt.Sprintf("pccc-stats-%s-%s.%s", rg.From, rg.To, rg.Format)
	switch rg.Format {
	case JSON:
		return Rendition{statsexport.DailyJSON(days), "application/json", name}, nil
	case PNG:
		var b bytes.Buffer
		if err := statschart.PNG(&b, days); err != nil {
			return Rendition{}, err
		}
		return Rendition{b.Bytes(), "image/png", name}, nil
	default:
		return Rendition{statsexport.DailyCSV(days, excel), "text/csv; charset=utf-8", name}, nil
	}
}

// Stats serves GET /v1/authority/stats?from=&to=&format= for a caller
// already known to hold an authority key.
func Stats(r Reader, now func() time.Time) apikey.CallerEndpoint {
	return func(ctx context.Context, req *httpapi.Request, _ apikey.Record) (*httpapi.Response, error) {
		q := req.Event.QueryStringParameters
		rg, err := ParseRange(q["from"], q["to"], q["format"], now())
		if err != nil {
			return nil, err
		}
		out, err := Render(ctx, r, rg, false)
		if err != nil {
			return nil, err
		}
		resp := httpapi.File(http.StatusOK, out.ContentType, out.Body)
		resp.Headers = map[string]string{"Content-Disposition": `attachment; filename="` + out.FileName + `"`}
		return resp, nil
	}
}

// Build builds AuthorityStatsFunction.
func Build(ctx context.Context, d platform.Deps) (any, error) {
	if d.Log == nil || d.AWS == nil || d.AWS.DynamoDB == nil {
		return nil, errors.New("authority stats: logger and DynamoDB client are required")
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	db, table := d.AWS.DynamoDB, d.Config.TableName
	return httpapi.Handler(d.Log, httpapi.Routes{
		RouteStats: apikey.RequireRole(dynamo.NewAPIKeyStore(db, table), apikey.Authority, Stats(dynamo.NewStats(db, table), now)),
	}), nil
}
