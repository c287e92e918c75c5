// Package authority is the customs authority's view of codes checked with
// wrong details again and again (infra/cmd/pccc-authority): the codes whose
// mismatches on a day reached the notice threshold, with the day's count
// and whether the holder was told. It reads the table through the real SDK
// with the operator's own credentials (Query on GSI1); no public route
// shows it. It prints codes and counts only: no holder, name or key.
package authority

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/pccc/pccc/infra/operator"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/stats"
)

// Flags lists a day's flagged codes (dynamo.CheckStore).
type Flags interface {
	Flagged(ctx context.Context, day string) ([]dynamo.MismatchFlag, error)
}

var _ Flags = (*dynamo.CheckStore)(nil)

// Usage is the command's help.
const Usage = `usage: pccc-authority [-table NAME] <command>

  mismatches [-day YYYY-MM-DD]   codes with repeated mismatches that day (Korean day; default today)

The table is -table or $TABLE_NAME; the AWS SDK's usual variables choose the
region, credentials and endpoint (AWS_ENDPOINT_URL_DYNAMODB for a local stack).
The operator's role needs dynamodb:Query on the table's GSI1.
`

// Main builds the store from the environment and runs the command in args
// (without the program name).
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	db, table, rest, err := operator.Setup(ctx, "pccc-authority", Usage, args, getenv, stderr)
	if err != nil {
		return err
	}
	return Run(ctx, dynamo.NewCheckStore(db, table), rest, time.Now, stdout, stderr)
}

// Run carries out one command.
func Run(ctx context.Context, st Flags, args []string, now func() time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "mismatches" {
		fmt.Fprint(stderr, Usage)
		return errors.New("unknown command: want mismatches")
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
