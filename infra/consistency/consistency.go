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
//   - every message in a dead-letter queue belongs to a failed request.
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
	Counters, SucceededByKind                map[stats.Kind]int64
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
		case r.status == dynamo.RequestQueued || r.status == dynamo.RequestProcessing:
			rep.Stuck++
			rep.violate("request %s is still %s", id, r.status)
		}
	}
	for id, r := range requests {
		rep.Requests++
		switch r.status {
		case dynamo.RequestSucceeded:
			rep.Succeeded++
			rep.SucceededByKind[holder.Kind(r.kind).Counted()]++
			if audits[id] != 1 {
				rep.violate("succeeded request %s has %d audit events", id, audits[id])
			}
		case dynamo.RequestFailed:
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
		if r, ok := requests[id]; !ok || r.status != dynamo.RequestSucceeded {
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
		} else if r.status != dynamo.RequestFailed && r.status != dynamo.RequestSucceeded {
			rep.violate("dead letter for request %s, which is %s", m.RequestID, r.status)
		}
	}
	return rep, nil
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
