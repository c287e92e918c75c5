package statsapi

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/s3store"
	"github.com/pccc/pccc/shared/statsexport"
)

// BuildExport builds the daily export (StatsExportFunction): a
// statsexport.Exporter on the statistics' counters and the export bucket.
// STATS_BUCKET names the export bucket; STATS_EXPORT_LOOKBACK_DAYS
// (default 7) is how many days up to yesterday each run makes sure are
// exported.
func BuildExport(ctx context.Context, d platform.Deps) (any, error) {
	if d.Log == nil || d.AWS == nil || d.AWS.DynamoDB == nil || d.AWS.S3 == nil {
		return nil, errors.New("stats export: logger, DynamoDB and S3 clients are required")
	}
	bucket := d.Getenv("STATS_BUCKET")
	if bucket == "" {
		return nil, errors.New("stats export: STATS_BUCKET is required")
	}
	lookback := 7
	if v := d.Getenv("STATS_EXPORT_LOOKBACK_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 60 {
			return nil, errors.New("stats export: STATS_EXPORT_LOOKBACK_DAYS must be 1-60")
		}
		lookback = n
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	e := &statsexport.Exporter{
		Stats:  dynamo.NewStats(d.AWS.DynamoDB, d.Config.TableName),
		Bucket: &s3store.Bucket{S3: d.AWS.S3, Name: bucket},
		Now:    now, Lookback: lookback, Log: d.Log,
	}
	return e.Handle, nil
}
