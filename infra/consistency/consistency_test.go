package consistency

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/truora/minidyn/server"

	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/campaign"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/stats"
)

const table = "pccc-check"

func db(t *testing.T) *dynamodb.Client {
	t.Helper()
	srv := httptest.NewServer(server.NewServer())
	t.Cleanup(srv.Close)
	c, err := awsclient.New(context.Background(), awsclient.Options{DynamoDBEndpoint: srv.URL, Region: "ap-northeast-2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DynamoDB.CreateTable(context.Background(), dynamo.TableSchema(table)); err != nil {
		t.Fatal(err)
	}
	return c.DynamoDB
}

// A run the real store made is consistent; each kind of damage done to it
// by hand is found.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	d := db(t)
	st := dynamo.NewCodeStore(d, table, dynamo.NewStats(d, table))
	requests := dynamo.NewRequestStore(d, table)
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	issue := func(id, hk, code string) {
		t.Helper()
		if err := requests.Queue(ctx, holder.Request{ID: id, Owner: hk, Kind: "issue", CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
		h := dynamo.Holder{Key: hk, Code: code, Status: "active", IssuedAt: at, ExpiresAt: at.AddDate(1, 0, 0)}
		if err := st.Apply(ctx, dynamo.Change{RequestID: id, Actor: "holder", Kind: stats.Issued, Command: "issue", At: at, New: h, NewCode: code}); err != nil {
			t.Fatal(err)
		}
	}
	issue("r1", "h1", "P100000000005")
	issue("r2", "h2", "P100000000013")
	if err := requests.Queue(ctx, holder.Request{ID: "r3", Owner: "h1", Kind: "issue", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := requests.Fail(ctx, "r3", "You already have a live code."); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(ctx, d, table, Input{Answered: []string{"r1", "r2", "r3"}, DeadLetters: []string{`{"requestId":"r3"}`}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Succeeded != 2 || rep.Failed != 1 || rep.LiveCodes != 2 || rep.Counters[stats.Issued] != 2 {
		t.Fatalf("a consistent run: %+v", rep)
	}

	// The exported figures: the day read back from the counters agrees;
	// a file that lost one issue, or whose hours do not add up, does not.
	days, err := dynamo.NewStats(d, table).Read(ctx, []string{stats.Day(at)}, true)
	if err != nil {
		t.Fatal(err)
	}
	in := Input{Answered: []string{"r1", "r2", "r3"}, DeadLetters: []string{`{"requestId":"r3"}`}, Exported: days}
	if rep, _ := Check(ctx, d, table, in); !rep.OK() || rep.Exported[stats.Issued] != 2 {
		t.Fatalf("the export of a consistent run: %+v", rep)
	}
	short := days[0]
	short.Counts = stats.Figures{stats.Issued: 1}
	in.Exported = []stats.Daily{short}
	rep2, _ := Check(ctx, d, table, in)
	if !strings.Contains(strings.Join(rep2.Violations, "\n"), "exported issued is 1, succeeded commands of that kind 2") ||
		!strings.Contains(strings.Join(rep2.Violations, "\n"), "over its hours") {
		t.Errorf("an export short of an issue: %v", rep2.Violations)
	}

	put := func(item map[string]types.AttributeValue) {
		t.Helper()
		if _, err := d.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	// Damage: a second live code for h1, a stuck request, a failure
	// without reason, a counter with no command behind it.
	put(map[string]types.AttributeValue{"PK": s("CODE#P100000000021"), "SK": s("CODE"), "holderKey": s("h1"), "status": s("live")})
	if err := requests.Queue(ctx, holder.Request{ID: "r4", Owner: "h2", Kind: "suspend", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	put(map[string]types.AttributeValue{"PK": s("REQ#r5"), "SK": s("REQ"), "status": s("failed"), "kind": s("cancel")})
	put(map[string]types.AttributeValue{"PK": s("STAT#2026-12-01#99"), "SK": s("STAT"), "reissued": &types.AttributeValueMemberN{Value: "3"}})
	rep, err = Check(ctx, d, table, Input{Answered: []string{"r1", "r2", "r3", "r4", "gone"}, DeadLetters: []string{`{"requestId":"r4"}`, `garbage`}})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rep.Violations, "\n")
	for _, want := range []string{
		"holder h1 has 2 live codes",
		"request r4 is still queued",
		"request gone was answered 202 but has no record",
		"request r5 failed without a reason",
		"counter reissued is 3, succeeded commands of that kind 0",
		"dead letter for request r4, which is queued",
		"a dead letter names no request",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("not found: %q\nin:\n%s", want, all)
		}
	}
	if rep.Stuck != 1 || rep.Lost != 1 {
		t.Errorf("stuck %d lost %d", rep.Stuck, rep.Lost)
	}
}

// A campaign the real stores recorded is consistent; a counter with no
// record behind it, a code recorded done without its change, and a
// complete campaign short of a valid code are each found.
func TestCheckCampaigns(t *testing.T) {
	ctx := context.Background()
	d := db(t)
	st := dynamo.NewStats(d, table)
	codes := dynamo.NewCodeStore(d, table, st)
	camps := dynamo.NewCampaignStore(d, table)
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	n := func(v int64) types.AttributeValue {
		return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
	}
	h := dynamo.Holder{Key: "h1", Code: "P100000000005", Status: "active", IssuedAt: at, ExpiresAt: at.AddDate(1, 0, 0)}
	if err := codes.Apply(ctx, dynamo.Change{RequestID: "r1", Actor: "holder", Kind: stats.Issued, Command: "issue", At: at, New: h, NewCode: h.Code}); err != nil {
		t.Fatal(err)
	}
	h.Version = 1
	if err := camps.Create(ctx, dynamo.Campaign{ID: "c1", Action: "suspend", Reason: "misuse_suspected", RatePerSecond: 10, State: "active", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := camps.Transition(ctx, "c1", []string{"active"}, "complete", map[string]types.AttributeValue{
		"listed": n(4), "invalid": n(1), "duplicate": n(1), "valid": n(2),
	}); err != nil {
		t.Fatal(err)
	}
	// The holder's code suspended by the campaign, an unknown code skipped.
	rid := campaign.RequestID("c1", h.Code)
	next := h
	next.Status, next.SuspendedBy = "suspended", "authority"
	done := dynamo.ItemRecord{Campaign: "c1", Code: h.Code, Counter: dynamo.CampaignDone, Outcome: campaign.OutcomeDone, At: at}
	if err := codes.ApplyWith(ctx, dynamo.Change{RequestID: rid, Actor: "authority", Kind: stats.Suspended, Command: "suspend",
		Counts: []stats.Kind{stats.Suspended, stats.SuspendedByAuthority, stats.CampaignItemsDone}, At: at, Old: h, New: next}, camps.ChangeItems(done)); err != nil {
		t.Fatal(err)
	}
	if err := camps.Record(ctx, dynamo.ItemRecord{Campaign: "c1", Code: "P100000000013", Counter: dynamo.CampaignSkipUnknown,
		Outcome: campaign.OutcomeSkipped, Reason: campaign.SkipUnknown, At: at, Counts: []stats.Kind{stats.CampaignItemsSkipped}}); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(ctx, d, table, Input{Answered: []string{"r1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Campaigns != 1 || rep.CampaignItems != 2 || rep.Counters[stats.CampaignItemsDone] != 1 {
		t.Fatalf("a consistent campaign: %+v", rep)
	}

	put := func(item map[string]types.AttributeValue) {
		t.Helper()
		if _, err := d.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatal(err)
		}
	}
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	// A second campaign: complete, 3 valid codes, one done without its
	// change, and a done counter of 2.
	if err := camps.Create(ctx, dynamo.Campaign{ID: "c2", Action: "reissue", Reason: "leak_concern", RatePerSecond: 10, State: "complete", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := camps.Transition(ctx, "c2", []string{"complete"}, "complete", map[string]types.AttributeValue{
		"listed": n(3), "invalid": n(0), "duplicate": n(0), "valid": n(3),
	}); err != nil {
		t.Fatal(err)
	}
	put(map[string]types.AttributeValue{"PK": s("CAMP#c2"), "SK": s("ITEM#P100000000021"), "outcome": s("done")})
	put(map[string]types.AttributeValue{"PK": s("CAMP#c2"), "SK": s("TOTAL#00"), "done": n(2)})
	rep, err = Check(ctx, d, table, Input{Answered: []string{"r1"}})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(rep.Violations, "\n")
	for _, want := range []string{
		"campaign c2: counter done is 2, item records 1",
		"campaign c2 is complete with 1 item records for 3 valid codes",
		"campaign c2: code P100000000021 recorded done, but its change",
		"counter campaign_items_done is 1, campaign item records 2",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("not found: %q\nin:\n%s", want, all)
		}
	}
}
