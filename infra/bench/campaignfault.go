package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pccc/pccc/infra/consistency"
	"github.com/pccc/pccc/infra/faults"
	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/dynamo"
)

// SeededCode is the n-th code of a range of prefix (three digits), its
// check digit right: codes of a run's own that no generator hands out.
func SeededCode(prefix, n int) string {
	d := fmt.Sprintf("%03d%08d", prefix, n)
	return "P" + d + string(codes.CheckDigit(d))
}

// SeedHolders writes n holders straight into the table (BatchWriteItem),
// each with a live code and a retired one of before, and no phone:
// holders for a campaign of thousands of codes without thousands of
// verifications. It returns the live codes, the retired ones and the
// holders' keys, in the same order.
func SeedHolders(ctx context.Context, db *dynamodb.Client, table string, prefix, n int) (live, retired, holders []string, err error) {
	now := time.Now().UTC()
	sv := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	nv := func(v int) types.AttributeValue { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }
	var reqs []types.WriteRequest
	for i := range n {
		hk := fmt.Sprintf("seed%03d-%06d", prefix, i)
		code, old := SeededCode(prefix, 2*i), SeededCode(prefix, 2*i+1)
		live, retired, holders = append(live, code), append(retired, old), append(holders, hk)
		reqs = append(reqs,
			types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"PK": sv("HOLDER#" + hk), "SK": sv("HOLDER"), "code": sv(code), "status": sv("active"), "suspendedBy": sv(""),
				"issuedAt": sv(now.Format(time.RFC3339Nano)), "expiresAt": sv(now.AddDate(1, 0, 0).Format(time.RFC3339Nano)),
				"reissueYear": nv(now.Year()), "reissuesInYear": nv(1), "version": nv(1),
			}}},
			types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"PK": sv("CODE#" + code), "SK": sv("CODE"), "holderKey": sv(hk), "status": sv(dynamo.CodeLive), "createdAt": sv(now.Format(time.RFC3339Nano)),
			}}},
			types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{
				"PK": sv("CODE#" + old), "SK": sv("CODE"), "holderKey": sv(hk), "status": sv(dynamo.CodeRetired), "createdAt": sv(now.Format(time.RFC3339Nano)),
			}}},
		)
	}
	for start := 0; start < len(reqs); start += 25 {
		batch := reqs[start:min(start+25, len(reqs))]
		for len(batch) > 0 {
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: batch}})
			if err != nil {
				return nil, nil, nil, err
			}
			batch = out.UnprocessedItems[table]
		}
	}
	return live, retired, holders, nil
}

// CampaignFaultResult is what a campaign under faults did and what the
// consistency checker found.
type CampaignFaultResult struct {
	Lines, Holders      int
	Totals              map[string]int64 // the campaign's totals when it ended
	State               string
	DynamoDB, SQS       faults.Counts
	Kills               int64 // reader and worker invocations killed
	Redelivered         int64 // campaign items delivered twice at once
	KillEvery           int64
	Duplicate           float64
	ChangedOnce         int // holders whose code was reissued exactly once
	Took                time.Duration
	Report              consistency.Report
	FirstClientProblems []string
}

// keyLine is how pccc-keys create prints the key id and the key.
var keyLine = regexp.MustCompile(`(?m)^key id:\s+(\S+)[\s\S]*^key:\s+(\S+)`)

// CampaignFaultRun reissues a list of holders codes (mixed with retired,
// unknown, invalid and repeated lines) by an uploaded campaign while
// DynamoDB and SQS misbehave as f says, the reader is killed after some of
// its chunk sends and the campaign workers after every f.KillEvery-th
// batch; then the consistency checker reads the whole table.
func CampaignFaultRun(ctx context.Context, templatePath string, kind localstack.Kind, holders int, f Faults) (CampaignFaultResult, error) {
	res := CampaignFaultResult{Holders: holders, KillEvery: f.KillEvery, Duplicate: f.Rates.Duplicate}
	// The reader's chunks sent twice too, now and then.
	f.Rates.DuplicateOf = []string{"AmazonSQS.SendMessage", "AmazonSQS.SendMessageBatch"}
	s, err := StartWith(ctx, templatePath, kind, map[string]string{"REISSUES_PER_YEAR": "366", "CAMPAIGN_MAX_RATE": "5000"}, &f)
	if err != nil {
		return res, err
	}
	defer s.Close()
	// Redeliveries after a kill within seconds, not the template's minutes.
	for _, q := range []string{"CampaignQueue", "CampaignControlQueue"} {
		url, err := s.QueueURL(ctx, localrun.DefaultNamePrefix+q)
		if err != nil {
			return res, err
		}
		if _, err := s.Clients.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
			Attributes: map[string]string{"VisibilityTimeout": "3"}}); err != nil {
			return res, err
		}
	}
	live, retired, keys, err := SeedHolders(ctx, s.Clients.DynamoDB, TableName, 700, holders)
	if err != nil {
		return res, err
	}
	// The list: every live code, then a tenth each of retired codes,
	// unknown codes, repeats and bad lines.
	lines := append([]string{}, live...)
	for i := 0; i < holders/10; i++ {
		lines = append(lines, retired[i], SeededCode(701, i), live[i], "P12345", "")
	}
	res.Lines = len(lines)

	auth, err := authorityKey(ctx, s)
	if err != nil {
		return res, err
	}
	start := time.Now()
	path, err := s.startCampaign(ctx, auth, `{"action":"reissue","reason":"leak_concern","ratePerSecond":5000,"list":"upload"}`, lines)
	if err != nil {
		return res, err
	}
	v, err := s.campaignIn(ctx, auth, path, 10*time.Minute, "complete", "failed", "cancelled")
	if err != nil {
		return res, err
	}
	res.Took = time.Since(start)
	res.State, _ = v["state"].(string)
	res.Totals = totalsOf(v)
	// Each holder's code reissued once: a new live code, version 2.
	store := dynamo.NewCodeStore(s.Clients.DynamoDB, TableName, nil)
	for i, hk := range keys {
		h, err := store.Holder(ctx, hk)
		if err != nil {
			return res, err
		}
		if h.Code != live[i] && h.Version == 2 {
			res.ChangedOnce++
		} else if len(res.FirstClientProblems) < 5 {
			res.FirstClientProblems = append(res.FirstClientProblems, fmt.Sprintf("holder %s: code %s (was %s), version %d", hk, h.Code, live[i], h.Version))
		}
	}
	res.DynamoDB, res.SQS, res.Kills, res.Redelivered = s.DynamoDBFaults.Counts(), s.SQSFaults.Counts(), s.Kills.Load(), s.Redelivered.Load()
	res.Report, err = consistency.Check(ctx, s.Clients.DynamoDB, TableName, consistency.Input{})
	return res, err
}

// retried calls the API with auth (an Authorization value), trying a 5xx
// again after a moment as a client would, until it answers want.
func (s *System) retried(ctx context.Context, method, path, auth, body string, want int) (Answer, error) {
	var a Answer
	var err error
	for range 20 {
		a, err = s.callWith(ctx, method, path, auth, body)
		if err == nil && a.Status < 500 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return a, err
	}
	if a.Status != want {
		return a, fmt.Errorf("%s %s: HTTP %d %v, want %d", method, path, a.Status, a.Body, want)
	}
	return a, nil
}

// campaignIn polls a campaign until it is in one of states.
func (s *System) campaignIn(ctx context.Context, auth, path string, within time.Duration, states ...string) (map[string]any, error) {
	deadline := time.Now().Add(within)
	var last Answer
	for time.Now().Before(deadline) {
		a, err := s.callWith(ctx, http.MethodGet, path, auth, "")
		if err == nil && a.Status == http.StatusOK {
			last = a
			for _, st := range states {
				if a.Body["state"] == st {
					return a.Body, nil
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("campaign %s not %v within %v: %v", path, states, within, last.Body)
}

// callWith makes an API call with an Authorization value of its own (an
// API key), without an Idempotency-Key.
func (s *System) callWith(ctx context.Context, method, path, auth, body string) (Answer, error) {
	return s.send(ctx, method, path, auth, "", body)
}

// WriteCampaignFaults writes the campaign fault run's section.
func WriteCampaignFaults(w io.Writer, r CampaignFaultResult) {
	fmt.Fprintf(w, "An uploaded reissue campaign of **%d lines** (%d holders' live codes, and retired, unknown, repeated, invalid and blank lines) under the same faults; the reader killed after some of its chunk sends (before saving its place) and every %d-th campaign worker batch after its writes, before the delete. It ended `%s` in %.0f s with totals %v.\n\n",
		r.Lines, r.Holders, r.KillEvery, r.State, r.Took.Seconds(), r.Totals)
	fmt.Fprintf(w, "| injected | DynamoDB | SQS |\n|---|---:|---:|\n| calls through the proxy | %d | %d |\n| throttled | %d | %d |\n| connections dropped | %d | %d |\n| sends duplicated | - | %d |\n\n",
		r.DynamoDB.Requests, r.SQS.Requests, r.DynamoDB.Throttled, r.SQS.Throttled, r.DynamoDB.Dropped, r.SQS.Dropped, r.SQS.Duplicated)
	fmt.Fprintf(w, "Campaign items delivered twice at once (%.0f %%): %d. Invocations killed: %d. Holders whose code was reissued exactly once: %d of %d. Consistency checker: %d campaign, %d item records, %d requests succeeded; **%d violations**.\n",
		100*r.Duplicate, r.Redelivered, r.Kills, r.ChangedOnce, r.Holders, r.Report.Campaigns, r.Report.CampaignItems, r.Report.Succeeded, len(r.Report.Violations))
	for _, v := range r.Report.Violations {
		fmt.Fprintf(w, "- %s\n", v)
	}
}
