// Package consistency reads the whole table after a run and proves the
// invariants the system promises, or lists where they fail:
//
//   - every request answered 202 ended succeeded, or failed with a reason:
//     none lost, none stuck;
//   - every succeeded request left exactly one audit event;
//   - no holder has two live codes, every live code's holder names it, and
//     a code belongs to one holder (its item is keyed by the code);
//   - the statistics counters equal the succeeded commands, kind by kind,
//     and so do the exported figures (the daily files) when given;
//   - every message in a dead-letter queue belongs to a failed request;
//   - every campaign's list adds up (listed = invalid + duplicate + valid),
//     its work counters equal its item records, outcome by outcome, an
//     ended one accounts for every valid code once, each code it changed
//     is one succeeded request (one audit event), and the statistics'
//     campaign figures equal the records.
//
// It scans, so it is for local runs and tests (make bench, CI), never for
// production tables.
package consistency

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/campaign"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/stats"
)

// ScanAPI is the part of the DynamoDB client the checker uses.
type ScanAPI interface {
	Scan(context.Context, *dynamodb.ScanInput, ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Input is what the run knows besides the table.
type Input struct {
	// Answered are the request ids the API answered 202 for.
	Answered []string
	// DeadLetters are the bodies of the messages found in the command
	// dead-letter queue.
	DeadLetters []string
	// Exported, when not nil, are the figures of the days the daily export
	// wrote (read back from its files), covering every day of the run.
	Exported []stats.Daily
}

// Report is the result: counts, and one line per violation.
type Report struct {
	Requests, Succeeded, Failed, Stuck, Lost int
	Holders, LiveCodes, RetiredCodes         int
	DeadLetters                              int
	// Campaigns and the item records they hold.
	Campaigns, CampaignItems  int
	Counters, SucceededByKind map[stats.Kind]int64
	// Exported adds up the exported days' figures (nil without Input.Exported).
	Exported   map[stats.Kind]int64
	Violations []string
}

// OK reports whether nothing was violated.
func (r Report) OK() bool { return len(r.Violations) == 0 }

func (r *Report) violate(format string, args ...any) {
	// Bounded: a broken run must not print a million lines.
	if len(r.Violations) < 200 {
		r.Violations = append(r.Violations, fmt.Sprintf(format, args...))
	} else if len(r.Violations) == 200 {
		r.Violations = append(r.Violations, "… more violations not listed")
	}
}

type request struct {
	status, kind, errText, code string
}

type codeItem struct {
	holder, status string
}

type holderItem struct {
	code, status string
}

// Check scans table and checks in against it.
func Check(ctx context.Context, db ScanAPI, table string, in Input) (Report, error) {
	rep := Report{Counters: map[stats.Kind]int64{}, SucceededByKind: map[stats.Kind]int64{}}
	requests := map[string]request{}
	codes := map[string]codeItem{}
	holders := map[string]holderItem{}
	audits := map[string]int{}
	camps := map[string]*campaignSeen{}
	campOf := func(id string) *campaignSeen {
		if camps[id] == nil {
			camps[id] = &campaignSeen{work: map[string]int64{}, records: map[string]int64{}}
		}
		return camps[id]
	}
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return rep, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, it := range page.Items {
			pk, sk := str(it, dynamo.AttrPK), str(it, dynamo.AttrSK)
			switch {
			case strings.HasPrefix(pk, "REQ#"):
				requests[pk[4:]] = request{status: str(it, "status"), kind: str(it, "kind"), errText: str(it, "error"), code: str(it, "code")}
			case strings.HasPrefix(pk, "CODE#"):
				codes[pk[5:]] = codeItem{holder: str(it, "holderKey"), status: str(it, "status")}
			case strings.HasPrefix(pk, "HOLDER#") && sk == "HOLDER":
				holders[pk[7:]] = holderItem{code: str(it, "code"), status: str(it, "status")}
			case strings.HasPrefix(pk, "HOLDER#") && strings.HasPrefix(sk, "AUDIT#"):
				audits[str(it, "requestId")]++
			case strings.HasPrefix(pk, "CAMP#") && sk == "CAMP":
				c := campOf(pk[5:])
				c.stored = true
				c.state, c.action = str(it, "state"), str(it, "action")
				c.dry = isTrue(it, "dryRun")
				c.listed, c.invalid, c.duplicate, c.valid = number(it, "listed"), number(it, "invalid"), number(it, "duplicate"), number(it, "valid")
			case strings.HasPrefix(pk, "CAMP#") && strings.HasPrefix(sk, "TOTAL#"):
				c := campOf(pk[5:])
				for name, v := range it {
					if n, ok := v.(*types.AttributeValueMemberN); ok && name != dynamo.AttrTTL {
						x, _ := strconv.ParseInt(n.Value, 10, 64)
						c.work[name] += x
					}
				}
			case strings.HasPrefix(pk, "CAMP#") && strings.HasPrefix(sk, "ITEM#"):
				c := campOf(pk[5:])
				counter := str(it, "outcome")
				if counter == campaign.OutcomeSkipped {
					counter = "skipped_" + str(it, "reason")
				}
				c.records[counter]++
				if counter == campaign.OutcomeDone {
					c.done = append(c.done, sk[5:])
				}
			case strings.HasPrefix(pk, "STAT#"):
				for _, k := range stats.Kinds() {
					day := number(it, string(k))
					rep.Counters[k] += day
					var hours int64
					for h := range 24 {
						hours += number(it, dynamo.HourAttr(k, h))
					}
					if hours != day {
						rep.violate("counter item %s: %s is %d for the day, %d over its hours", pk, k, day, hours)
					}
				}
			}
		}
	}

	// Requests: answered ones all ended; every ended one is coherent.
	for _, id := range in.Answered {
		r, ok := requests[id]
		switch {
		case !ok:
			rep.Lost++
			rep.violate("request %s was answered 202 but has no record", id)
		case r.status == holder.RequestQueued || r.status == holder.RequestProcessing:
			rep.Stuck++
			rep.violate("request %s is still %s", id, r.status)
		}
	}
	for id, r := range requests {
		rep.Requests++
		switch r.status {
		case holder.RequestSucceeded:
			rep.Succeeded++
			rep.SucceededByKind[holder.Kind(r.kind).Counted()]++
			if audits[id] != 1 {
				rep.violate("succeeded request %s has %d audit events", id, audits[id])
			}
		case holder.RequestFailed:
			rep.Failed++
			if r.errText == "" {
				rep.violate("request %s failed without a reason", id)
			}
			if audits[id] != 0 {
				rep.violate("failed request %s has %d audit events", id, audits[id])
			}
		}
	}
	for id, n := range audits {
		if r, ok := requests[id]; !ok || r.status != holder.RequestSucceeded {
			rep.violate("%d audit events for request %s, which did not succeed", n, id)
		}
	}

	// Codes and holders.
	liveByHolder := map[string][]string{}
	for code, c := range codes {
		if c.status == dynamo.CodeLive {
			rep.LiveCodes++
			liveByHolder[c.holder] = append(liveByHolder[c.holder], code)
		} else {
			rep.RetiredCodes++
		}
	}
	for hk, live := range liveByHolder {
		if len(live) > 1 {
			sort.Strings(live)
			rep.violate("holder %s has %d live codes: %s", hk, len(live), strings.Join(live, ", "))
		}
	}
	for hk, h := range holders {
		rep.Holders++
		c, ok := codes[h.code]
		switch {
		case h.code == "":
			rep.violate("holder %s has no code", hk)
		case !ok:
			rep.violate("holder %s names code %s, which has no item", hk, h.code)
		case c.holder != hk:
			rep.violate("holder %s names code %s, which belongs to %s", hk, h.code, c.holder)
		case h.status == string(holder.Cancelled) && c.status == dynamo.CodeLive:
			rep.violate("holder %s is cancelled but code %s is live", hk, h.code)
		case h.status != string(holder.Cancelled) && c.status != dynamo.CodeLive:
			rep.violate("holder %s is %s but its code %s is %s", hk, h.status, h.code, c.status)
		}
	}
	for hk, live := range liveByHolder {
		if h, ok := holders[hk]; !ok || (len(live) == 1 && h.code != live[0]) {
			rep.violate("code %s is live for holder %s, whose item does not name it", live[0], hk)
		}
	}

	// Counters: one per succeeded command, and its parts (why, by whom)
	// add up to it.
	for _, k := range stats.CommandKinds() {
		if rep.Counters[k] != rep.SucceededByKind[k] {
			rep.violate("counter %s is %d, succeeded commands of that kind %d", k, rep.Counters[k], rep.SucceededByKind[k])
		}
	}
	checkParts(&rep, "counter", rep.Counters)

	// The exported figures: the same, and each day's hours add up to it.
	if in.Exported != nil {
		rep.Exported = map[stats.Kind]int64{}
		for _, d := range in.Exported {
			for _, k := range stats.Kinds() {
				rep.Exported[k] += d.Counts[k]
				var hours int64
				for h := range d.Hours {
					hours += d.Hours[h][k]
				}
				if hours != d.Counts[k] {
					rep.violate("exported %s: %s is %d for the day, %d over its hours", d.Day, k, d.Counts[k], hours)
				}
			}
		}
		for _, k := range stats.CommandKinds() {
			if rep.Exported[k] != rep.SucceededByKind[k] {
				rep.violate("exported %s is %d, succeeded commands of that kind %d", k, rep.Exported[k], rep.SucceededByKind[k])
			}
		}
		checkParts(&rep, "exported", rep.Exported)
	}

	checkCampaigns(&rep, camps, requests, audits)

	// Dead letters.
	for _, body := range in.DeadLetters {
		rep.DeadLetters++
		var m struct {
			RequestID string `json:"requestId"`
		}
		if json.Unmarshal([]byte(body), &m) != nil || m.RequestID == "" {
			rep.violate("a dead letter names no request")
			continue
		}
		if r, ok := requests[m.RequestID]; !ok {
			if !strings.HasPrefix(m.RequestID, "sys-") {
				rep.violate("dead letter for request %s, which has no record", m.RequestID)
			}
		} else if r.status != holder.RequestFailed && r.status != holder.RequestSucceeded {
			rep.violate("dead letter for request %s, which is %s", m.RequestID, r.status)
		}
	}
	return rep, nil
}

// campaignSeen is what the scan found of one campaign.
type campaignSeen struct {
	stored                            bool
	state, action                     string
	dry                               bool
	listed, invalid, duplicate, valid int64
	work                              map[string]int64 // the TOTAL# counters, summed
	records                           map[string]int64 // item records by the counter they add to
	done                              []string         // the codes recorded done
}

// checkCampaigns checks every campaign's figures against its records, the
// changes it made against the requests, and the statistics' campaign
// figures against all the records.
func checkCampaigns(rep *Report, camps map[string]*campaignSeen, requests map[string]request, audits map[string]int) {
	var done, skipped, failed int64
	ids := make([]string, 0, len(camps))
	for id := range camps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := camps[id]
		rep.Campaigns++
		if !c.stored {
			rep.violate("campaign %s has counters or item records but no campaign item", id)
			continue
		}
		if c.listed != c.invalid+c.duplicate+c.valid {
			rep.violate("campaign %s lists %d lines: %d invalid + %d duplicate + %d valid", id, c.listed, c.invalid, c.duplicate, c.valid)
		}
		var records int64
		names := map[string]bool{}
		for k := range c.work {
			names[k] = true
		}
		for k, n := range c.records {
			names[k] = true
			records += n
			switch {
			case k == campaign.OutcomeDone:
				done += n
			case k == campaign.OutcomeFailed:
				failed += n
			default:
				skipped += n
			}
		}
		rep.CampaignItems += int(records)
		for k := range names {
			if c.work[k] != c.records[k] {
				rep.violate("campaign %s: counter %s is %d, item records %d", id, k, c.work[k], c.records[k])
			}
		}
		if campaign.State(c.state) == campaign.Complete && !c.dry && records != c.valid {
			rep.violate("campaign %s is complete with %d item records for %d valid codes", id, records, c.valid)
		}
		if records > c.valid {
			rep.violate("campaign %s has %d item records for %d valid codes", id, records, c.valid)
		}
		if a := campaign.Action(c.action); a == campaign.Notify || c.dry {
			continue
		}
		for _, code := range c.done {
			rid := campaign.RequestID(id, code)
			if r, ok := requests[rid]; !ok || r.status != holder.RequestSucceeded || audits[rid] != 1 {
				rep.violate("campaign %s: code %s recorded done, but its change %s is %q with %d audit events", id, code, rid, r.status, audits[rid])
			}
		}
	}
	for k, n := range map[stats.Kind]int64{stats.CampaignItemsDone: done, stats.CampaignItemsSkipped: skipped, stats.CampaignItemsFailed: failed} {
		if rep.Counters[k] != n {
			rep.violate("counter %s is %d, campaign item records %d", k, rep.Counters[k], n)
		}
	}
}

func isTrue(it map[string]types.AttributeValue, name string) bool {
	b, ok := it[name].(*types.AttributeValueMemberBOOL)
	return ok && b.Value
}

// checkParts reports a kind whose parts (stats.Parts) do not add up to it.
func checkParts(rep *Report, what string, f map[stats.Kind]int64) {
	for parent, parts := range stats.Parts() {
		var sum int64
		for _, p := range parts {
			sum += f[p]
		}
		if sum != f[parent] {
			rep.violate("%s %s is %d, its parts add up to %d", what, parent, f[parent], sum)
		}
	}
}

func number(it map[string]types.AttributeValue, name string) int64 {
	v, ok := it[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(v.Value, 10, 64)
	return n
}

func str(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}
