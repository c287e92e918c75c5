// Package authority is the customs authority's operator command
// (infra/cmd/pccc-authority):
//
//   - mismatches: the codes checked with wrong details again and again,
//     whose mismatches on a day reached the notice threshold, with the
//     day's count and whether the holder was told (codes and counts only:
//     no holder, name or key);
//   - campaign: the authority's campaigns, created, steered and reported
//     through the API with an authority key (campaign.go);
//   - stats: the statistics of a range of days as CSV, JSON or a chart,
//     the same bytes GET /v1/authority/stats answers (shared/statsapi).
//
// It reads the table through the real SDK with the operator's own
// credentials.
package authority

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pccc/pccc/infra/operator"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/stats"
	"github.com/pccc/pccc/shared/statsapi"
)

// Flags lists a day's flagged codes (dynamo.CheckStore).
type Flags interface {
	Flagged(ctx context.Context, day string) ([]dynamo.MismatchFlag, error)
}

var _ Flags = (*dynamo.CheckStore)(nil)

// Stats reads the counters (dynamo.Stats).
type Stats = statsapi.Reader

// Usage is the command's help.
const Usage = `usage: pccc-authority [-table NAME] <command>

  campaign ...                   the authority's campaigns, through the API (campaign -h)
  mismatches [-day YYYY-MM-DD]   codes with repeated mismatches that day (Korean day; default today)
  stats -from YYYY-MM-DD -to YYYY-MM-DD [-format csv|json|png] -o FILE [-excel]
                                 the statistics of each day of the range (at most 366 days);
                                 -excel: a CSV Excel opens as UTF-8, with Korean headers

The table is -table or $TABLE_NAME; the AWS SDK's usual variables choose the
region, credentials and endpoint (AWS_ENDPOINT_URL_DYNAMODB for a local stack).
The operator's role needs dynamodb:Query on the table's GSI1 (mismatches) and
dynamodb:BatchGetItem on its STAT# items (stats).
`

// Main builds the store from the environment and runs the command in args
// (without the program name).
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "campaign" {
		// Through the API with the authority's key, not the table.
		return RunCampaign(ctx, args[1:], getenv, nil, stdout, stderr)
	}
	db, table, rest, err := operator.Setup(ctx, "pccc-authority", Usage, args, getenv, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 && rest[0] == "stats" {
		return RunStats(ctx, dynamo.NewStats(db, table), rest[1:], time.Now, stdout, stderr)
	}
	return Run(ctx, dynamo.NewCheckStore(db, table), rest, time.Now, stdout, stderr)
}

// RunStats carries out stats with its flags (args after "stats"): the
// range rendered as the route renders it, written to -o.
func RunStats(ctx context.Context, st Stats, args []string, now func() time.Time, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stats", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the first Korean day, YYYY-MM-DD")
	to := fs.String("to", "", "the last Korean day, YYYY-MM-DD (today at the latest)")
	format := fs.String("format", statsapi.CSV, "csv, json or png")
	out := fs.String("o", "", "the file to write (required)")
	excel := fs.Bool("excel", false, "csv only: a UTF-8 byte-order mark and Korean headers, for Excel")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("stats: unexpected arguments %v", fs.Args())
	}
	rg, err := statsapi.ParseRange(*from, *to, *format, now())
	if err != nil {
		return fmt.Errorf("stats: %s", describe(err))
	}
	if *out == "" {
		return errors.New("stats: -o FILE is required")
	}
	if *excel && rg.Format != statsapi.CSV {
		return errors.New("stats: -excel is for -format csv only")
	}
	r, err := statsapi.Render(ctx, st, rg, *excel)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, r.Body, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d days, %s to %s, written to %s (%d bytes)\n", len(rg.Days), rg.From, rg.To, *out, len(r.Body))
	return nil
}

// describe names the bad flags of a 400, as the route's fields do.
func describe(err error) string {
	e := apperr.As(err)
	if len(e.Fields) == 0 {
		return err.Error()
	}
	names := make([]string, 0, len(e.Fields))
	for f := range e.Fields {
		names = append(names, f)
	}
	sort.Strings(names)
	var parts []string
	for _, f := range names {
		parts = append(parts, "-"+f+" "+e.Fields[f])
	}
	return strings.Join(parts, "; ")
}

// Run carries out one command but stats (RunStats).
func Run(ctx context.Context, st Flags, args []string, now func() time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "mismatches" {
		fmt.Fprint(stderr, Usage)
		return errors.New("unknown command: want mismatches or stats")
	}
	fs := flag.NewFlagSet("mismatches", flag.ContinueOnError)
	fs.SetOutput(stderr)
	day := fs.String("day", stats.Day(now()), "the Korean day, YYYY-MM-DD")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if _, err := time.Parse("2006-01-02", *day); err != nil {
		return fmt.Errorf("-day %q: want YYYY-MM-DD", *day)
	}
	flags, err := st.Flagged(ctx, *day)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tMISMATCHES\tFIRST FLAGGED\tLAST\tHOLDER TOLD")
	for _, f := range flags {
		told := "no"
		if f.Notified {
			told = "yes"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", f.Code, f.Count, f.FirstAt.UTC().Format(time.RFC3339), f.LastAt.UTC().Format(time.RFC3339), told)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d codes on %s\n", len(flags), *day)
	return nil
}
