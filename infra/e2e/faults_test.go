package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pccc/pccc/infra/bench"
	"github.com/pccc/pccc/infra/localstack"
)

// TestUnderFaults runs many holders' commands while DynamoDB and SQS
// throttle, slow down and drop connections, SQS sends some commands twice
// and the worker is killed after its write in some batches; then the
// consistency checker must find nothing wrong. make bench runs the same
// with 10,000+ commands.
func TestUnderFaults(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		f := bench.DefaultFaults()
		res, err := bench.FaultRun(context.Background(), filepath.Join(repoRoot(t), "template.yaml"), kind, 24, 24, f)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", res)
		if res.FailedHolders != 0 {
			t.Fatalf("clients gave up: %v", res.FirstClientProblems)
		}
		if !res.Report.OK() {
			t.Fatalf("violations:\n%v", res.Report.Violations)
		}
		if res.Answered != res.Commands || res.Report.Succeeded < res.Commands {
			t.Fatalf("answered %d, succeeded %d of %d", res.Answered, res.Report.Succeeded, res.Commands)
		}
		if res.DynamoDB.Throttled == 0 || res.DynamoDB.Dropped == 0 || res.SQS.Duplicated == 0 || res.Kills == 0 {
			t.Fatalf("the faults were not exercised: %+v", res)
		}
	})
}
