package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/pccc/pccc/infra/bench"
	"github.com/pccc/pccc/infra/localstack"
)

// TestCampaignUnderFaults reissues a list of holders' codes by an
// uploaded campaign while DynamoDB and SQS throttle (5 %) and drop
// connections, 10 % of SQS sends (the reader's chunks too) go twice, 10 %
// of the items are delivered twice at once, the list reader is killed
// twice after a chunk's send and before saving its place, and every 20th
// campaign worker batch is killed after its writes, before the delete:
// every listed line is accounted for once, each holder's code is reissued
// exactly once, and the consistency checker finds no item applied twice,
// none lost and the counters exact.
func TestCampaignUnderFaults(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		f := bench.DefaultFaults()
		f.ReaderKills, f.ReaderChunk = []int64{2, 4}, 100
		const holders = 400
		res, err := bench.CampaignFaultRun(context.Background(), filepath.Join(repoRoot(t), "template.yaml"), kind, holders, f)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%+v", res)
		if res.State != "complete" {
			t.Fatalf("the campaign ended %s: %v", res.State, res.Totals)
		}
		tot := res.Totals
		// 400 live codes; 40 each of retired, unknown, repeated, invalid
		// and blank lines (a blank line is not listed).
		if tot["listed"] != int64(res.Lines-holders/10) || tot["valid"] != holders+2*holders/10 || tot["duplicate"] != holders/10 ||
			tot["done"] != holders || tot["skipped.already_retired"] != holders/10 || tot["skipped.unknown_code"] != holders/10 || tot["failed"] != 0 {
			t.Errorf("totals %v", tot)
		}
		if res.ChangedOnce != holders {
			t.Errorf("%d of %d holders' codes reissued exactly once: %v", res.ChangedOnce, holders, res.FirstClientProblems)
		}
		if !res.Report.OK() {
			t.Fatalf("violations:\n%v", res.Report.Violations)
		}
		if res.Report.CampaignItems != holders+2*holders/10 {
			t.Errorf("%d item records, want %d", res.Report.CampaignItems, holders+2*holders/10)
		}
		if res.DynamoDB.Throttled == 0 || res.Redelivered < holders/20 || res.Kills < 3 {
			t.Fatalf("the faults were not exercised: %+v", res)
		}
	})
}
