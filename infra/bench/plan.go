package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/infra/capacity"
)

// Plan is the capacity each command costs, from the sizes of real items
// the run wrote, and what that means for a surge day in AWS.
type Plan struct {
	Sizes                             map[string]int // largest item seen per kind
	AcceptWrite, AcceptRead           float64        // units per reissue answered 202 (with an Idempotency-Key)
	WorkerWrite, WorkerRead           float64        // units per reissue carried out
	LookupRead                        float64
	MeasuredDrain                     float64 // commands/s the local workers drained
	DayTotal, PeakFactor              float64
	PeakRate, PeakSeconds             float64
	WorkerRate                        float64 // the AWS drain rate the template sizes for
	PeakWrite, PeakRead               float64
	Backlog, DrainSeconds             float64
	APIConcurrency, WorkerConcurrency float64
	CommandRateLimit                  float64 // template.yaml's default
}

// kinds of items by key prefix.
var itemKinds = []struct{ name, pk, sk string }{
	{"holder", "HOLDER#", "HOLDER"},
	{"code", "CODE#", "CODE"},
	{"request", "REQ#", "REQ"},
	{"audit event", "HOLDER#", "AUDIT#"},
	{"counter shard", "STAT#", "STAT"},
}

// MeasurePlan scans the table for the largest item of each kind and
// prices the commands with them.
func MeasurePlan(ctx context.Context, s *System, drain float64) (Plan, error) {
	p := Plan{Sizes: map[string]int{}, MeasuredDrain: drain}
	pg := dynamodb.NewScanPaginator(s.Clients.DynamoDB, &dynamodb.ScanInput{TableName: aws.String(TableName)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return p, err
		}
		for _, it := range page.Items {
			pk, _ := it["PK"].(*types.AttributeValueMemberS)
			sk, _ := it["SK"].(*types.AttributeValueMemberS)
			if pk == nil || sk == nil {
				continue
			}
			for _, k := range itemKinds {
				if strings.HasPrefix(pk.Value, k.pk) && strings.HasPrefix(sk.Value, k.sk) {
					p.Sizes[k.name] = max(p.Sizes[k.name], capacity.ItemSize(it))
				}
			}
		}
	}
	w := func(kind string, tx bool) float64 { return capacity.WriteUnits(p.Sizes[kind], tx) }
	r := func(kind string) float64 { return capacity.ReadUnits(p.Sizes[kind], true) }
	// The API: the request record, which is also the key's claim, read
	// the holder meanwhile (and SendMessage); and its share of the command
	// rate counter, leased 1 to limit/8 commands a write: 1 at worst.
	p.AcceptWrite = w("request", false) + 1
	p.AcceptRead = r("holder")
	// The worker: read the holder, then one transaction of six items.
	p.WorkerRead = r("holder")
	p.WorkerWrite = w("holder", true) + 2*w("code", true) + w("audit event", true) + w("request", true) + w("counter shard", true)
	p.LookupRead = r("holder")

	// The surge: 300,000 reissues in a day, arriving at 100 times the
	// day's average rate while it lasts.
	p.DayTotal, p.PeakFactor = 300000, 100
	p.PeakRate = p.DayTotal / 86400 * p.PeakFactor
	p.PeakSeconds = p.DayTotal / p.PeakRate // the whole day's reissues at the peak rate: the worst case
	p.WorkerRate = 200                      // what template.yaml's worker concurrency is sized to carry out
	p.CommandRateLimit = 500                // template.yaml's CommandRateLimit
	p.PeakWrite = p.PeakRate*p.AcceptWrite + p.WorkerRate*p.WorkerWrite
	p.PeakRead = p.PeakRate*p.AcceptRead + p.WorkerRate*p.WorkerRead
	p.Backlog = math.Max(0, (p.PeakRate-p.WorkerRate)*p.PeakSeconds)
	p.DrainSeconds = p.Backlog / p.WorkerRate
	// Concurrency = rate × time per call (Little's law), with AWS latencies
	// of ~10 ms per DynamoDB or SQS call: two round trips to accept (the
	// write and the read at once, then the send) and the session check,
	// ~30 ms; 250 ms for a batch of 10 commands (a read and a transaction
	// each).
	p.APIConcurrency = p.PeakRate * 0.030
	p.WorkerConcurrency = p.WorkerRate / 10 * 0.250
	return p, nil
}

// WritePlan writes the capacity section.
func WritePlan(w io.Writer, p Plan) {
	fmt.Fprintf(w, "Item sizes as DynamoDB bills them (`capacity.ItemSize`), the largest of each kind in this run's table:\n\n| item | bytes |\n|---|---:|\n")
	for _, k := range itemKinds {
		fmt.Fprintf(w, "| %s | %d |\n", k.name, p.Sizes[k.name])
	}
	fmt.Fprintf(w, "\nUnits per command (writes: 1 per KB, twice in a transaction; strongly consistent reads: 1 per 4 KB). DynamoDB Local reports consumed capacity (`infra/capacity.Meter`) but not the transactional price, so these are computed from the sizes:\n\n")
	fmt.Fprintf(w, "| command | write units | read units | other calls |\n|---|---:|---:|---|\n")
	fmt.Fprintf(w, "| reissue accepted (API, with Idempotency-Key; the rate counter's share counted at its worst, 1) | %.0f | %.0f | 1 SQS SendMessage |\n", p.AcceptWrite, p.AcceptRead)
	fmt.Fprintf(w, "| reissue carried out (worker, one 6-item transaction) | %.0f | %.0f | 1/10 ReceiveMessage, 1/10 DeleteMessageBatch |\n", p.WorkerWrite, p.WorkerRead)
	fmt.Fprintf(w, "| lookup | 0 | %.0f | |\n", p.LookupRead)
	// The bench's holders register one short address; the rules allow 20.
	big := p.Sizes["holder"] + 19*300
	extra := capacity.WriteUnits(big, true) - capacity.WriteUnits(p.Sizes["holder"], true)
	fmt.Fprintf(w, "\nThe bench's holders register one short address. A holder with 20 addresses of ~220 characters (sealed: ~300 bytes each) is ~%d bytes: its transactional write costs %.0f units more, so a worker command %.0f instead of %.0f, and its lookup still 1 read unit (under 4 KB) or 2.\n", big, extra, p.WorkerWrite+extra, p.WorkerWrite)
	fmt.Fprintf(w, "\n### 300,000 reissues in a day, with a 100× peak, in AWS\n\n")
	fmt.Fprintf(w, "- Peak arrival rate: 300,000 ÷ 86,400 s × 100 = **%.0f reissues/s**. Worst case, the whole day's reissues arrive at that rate: %.0f s (%.0f min).\n", p.PeakRate, p.PeakSeconds, p.PeakSeconds/60)
	fmt.Fprintf(w, "- API (accept): %.0f/s × %.0f W = %.0f write units/s and %.0f read units/s; Lambda concurrency ≈ rate × ~30 ms (the write and the read at once, then the send, ~10 ms each) ≈ **%.0f**, far under the account's 1,000. API Gateway's route throttling (`ApiRateLimit` 1,000/s, `ApiBurstLimit` 2,000, per route) sits above the peak: the outer guard, answered 429 by API Gateway itself (without Retry-After). Commands meet their own bound first: `CommandRateLimit` (%.0f/s over all instances, `ADMIT_MAX_RATE`), answered `503 OVERLOADED` with `Retry-After`, which caps the accept path's writes at %.0f units/s.\n", p.PeakRate, p.AcceptWrite, p.PeakRate*p.AcceptWrite, p.PeakRate*p.AcceptRead, p.APIConcurrency, p.CommandRateLimit, p.CommandRateLimit*p.AcceptWrite)
	fmt.Fprintf(w, "- Workers: sized to carry out **%.0f commands/s** (this machine's emulators drained %.0f/s): %.0f × %.0f W = %.0f write units/s. A batch of 10 takes ~250 ms in AWS (a read and a transaction per command), so %.0f/s needs ≈ %.0f concurrent batches; template.yaml allows `MaximumConcurrency: 10` (reserved concurrency is the WorkerReservedConcurrency parameter, 0 = none, by default), which caps the drain near 400/s and DynamoDB writes near %.0f units/s.\n", p.WorkerRate, p.MeasuredDrain, p.WorkerRate, p.WorkerWrite, p.WorkerRate*p.WorkerWrite, p.WorkerRate, p.WorkerConcurrency, 400*p.WorkerWrite)
	fmt.Fprintf(w, "- Table at the peak: **%.0f write units/s, %.0f read units/s**; at most, with every bound reached (%.0f commands/s taken, workers at 400/s), %.0f write units/s. An on-demand table serves up to double its previous peak at once and a new one about 4,000 write units/s; pre-warm it (warm throughput) to the figure above before a known surge, or lower the worker's maximum concurrency: the queue then holds the difference instead of DynamoDB throttling.\n", p.PeakWrite, p.PeakRead, p.CommandRateLimit, p.CommandRateLimit*p.AcceptWrite+400*p.WorkerWrite)
	fmt.Fprintf(w, "- Queue: arrivals %.0f/s against a drain of %.0f/s leave a backlog of up to **%.0f commands** (SQS keeps 4 days; no practical depth limit), drained in **%.0f s (%.0f min)** after the peak. Admission control refuses new commands only when a new one would wait over `ADMIT_MAX_WAIT` (30 min) at `WORKER_RATE`; with `WORKER_RATE=%.0f` that is a backlog of %.0f, so on this worst-case day nobody is refused, and every request can show its position and wait.\n", p.PeakRate, p.WorkerRate, p.Backlog, p.DrainSeconds, p.DrainSeconds/60, p.WorkerRate, p.WorkerRate*1800)
}
