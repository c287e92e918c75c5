package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/stats"
)

// The code's life in the table. The invariants are held by conditions in
// one transaction per change, not by reading first:
//
//   - HOLDER#<holderKey> / HOLDER: the holder's one current code, its status
//     and dates, the sealed personal fields, a version that every change
//     bumps, and GSI1 = EXPIRY#<day> / HOLDER#<holderKey> so the daily expiry
//     job queries one day instead of scanning the table.
//   - CODE#<code> / CODE: which holder a code belongs to, forever, and
//     whether it is live or retired. No personal data. Created with
//     attribute_not_exists, so a code is never reused, even after
//     cancellation.
//   - HOLDER#<holderKey> / AUDIT#<time>#<requestId>: what changed, when,
//     by which request and actor. No personal data.
//   - REQ#<requestId> / REQ: the queued command's status. The change's
//     transaction moves it to succeeded on the condition that it has not
//     succeeded yet, so a message delivered twice has one effect.

// Code states, as stored.
const (
	CodeLive    = "live"
	CodeRetired = "retired"
)

// CodeAPI is the part of the DynamoDB client the code store uses.
type CodeAPI interface {
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// CodeStore keeps holders, codes, audit events and command requests.
type CodeStore struct {
	db    CodeAPI
	table string
	stats *Stats
}

// NewCodeStore returns the code store on table; st counts the changes.
func NewCodeStore(db CodeAPI, table string, st *Stats) *CodeStore {
	return &CodeStore{db: db, table: table, stats: st}
}

func holderKey(hk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s("HOLDER#" + hk), AttrSK: s("HOLDER")}
}

func codeKey(code string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s("CODE#" + code), AttrSK: s("CODE")}
}

func requestKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s("REQ#" + id), AttrSK: s("REQ")}
}

func ts(t time.Time) types.AttributeValue { return s(t.UTC().Format(time.RFC3339Nano)) }

// Apply carries out a change. The transaction's conditions hold the
// invariants: the holder is as read (version), a new code number is unused,
// a retired code was this holder's live code, and the request has not been
// carried out before.
func (st *CodeStore) Apply(ctx context.Context, c Change) error {
	err := transact(ctx, st.db, st.changeItems(c), st.counters(c))
	return applied(err, c, 0)
}

// ApplyWith is Apply with more items in the same transaction (a campaign's
// item record, CampaignStore.ChangeItems); a condition of theirs that
// fails is ErrItemRecorded.
func (st *CodeStore) ApplyWith(ctx context.Context, c Change, extra []types.TransactWriteItem) error {
	err := transact(ctx, st.db, append(st.changeItems(c), extra...), st.counters(c))
	return applied(err, c, len(extra))
}

// counters are a change's statistics items, picked again on each attempt.
func (st *CodeStore) counters(c Change) func() []types.TransactWriteItem {
	counts := c.Counts
	if len(counts) == 0 {
		counts = []stats.Kind{c.Kind}
	}
	return func() []types.TransactWriteItem { return st.stats.Items(Plus(c.At, counts...)...) }
}

// applied is what a change's transaction came to.
func applied(err error, c Change, extra int) error {
	if err == nil {
		return nil
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		return cancellation(tc, c, extra)
	}
	return translate("apply change", err)
}

// changeItems are a change's transaction items, in the order cancellation
// reads their reasons.
func (st *CodeStore) changeItems(c Change) []types.TransactWriteItem {
	h := c.New
	item := holderKey(h.Key)
	item["code"] = s(h.Code)
	item["status"] = s(h.Status)
	item["suspendedBy"] = s(h.SuspendedBy)
	item["issuedAt"] = ts(h.IssuedAt)
	item["expiresAt"] = ts(h.ExpiresAt)
	item["reissueYear"] = n(int64(h.ReissueYear))
	item["reissuesInYear"] = n(int64(h.ReissuesInYear))
	item["version"] = n(c.Old.Version + 1)
	if !h.Due.IsZero() {
		item[AttrGSI1PK] = s("EXPIRY#" + stats.Day(h.Due))
		item[AttrGSI1SK] = s("HOLDER#" + h.Key)
		item["due"] = ts(h.Due)
	}
	for name, v := range h.Sealed {
		item["sealed_"+name] = s(v)
	}
	put := &types.Put{TableName: aws.String(st.table), Item: item}
	if c.Old.Version == 0 {
		// A new holder, or one whose last code was cancelled or expired.
		put.ConditionExpression = aws.String("attribute_not_exists(PK) OR #status IN (:cancelled, :expired)")
		put.ExpressionAttributeNames = map[string]string{"#status": "status"}
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":cancelled": s("cancelled"), ":expired": s("expired")}
	} else {
		put.ConditionExpression = aws.String("#version = :v")
		put.ExpressionAttributeNames = map[string]string{"#version": "version"}
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":v": n(c.Old.Version)}
	}
	items := []types.TransactWriteItem{{Put: put}}
	if c.NewCode != "" {
		ci := codeKey(c.NewCode)
		ci["holderKey"] = s(h.Key)
		ci["status"] = s(CodeLive)
		ci["createdAt"] = ts(c.At)
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(st.table), Item: ci, ConditionExpression: aws.String("attribute_not_exists(PK)"),
		}})
	}
	if c.RetireCode != "" {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(st.table), Key: codeKey(c.RetireCode),
			UpdateExpression:          aws.String("SET #status = :retired, retiredAt = :at"),
			ConditionExpression:       aws.String("holderKey = :hk AND #status = :live"),
			ExpressionAttributeNames:  map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":retired": s(CodeRetired), ":at": ts(c.At), ":hk": s(h.Key), ":live": s(CodeLive)},
		}})
	}
	what := c.Command
	if what == "" {
		what = string(c.Kind)
	}
	audit := map[string]types.AttributeValue{
		AttrPK: s("HOLDER#" + h.Key), AttrSK: s("AUDIT#" + c.At.UTC().Format(time.RFC3339Nano) + "#" + c.RequestID),
		"what": s(what), "actor": s(c.Actor), "requestId": s(c.RequestID), "at": ts(c.At),
		"status": s(h.Status),
	}
	items = append(items,
		types.TransactWriteItem{Put: &types.Put{TableName: aws.String(st.table), Item: audit}},
		types.TransactWriteItem{Update: &types.Update{
			TableName: aws.String(st.table), Key: requestKey(c.RequestID),
			// A request the daily job made has no queued record: this
			// creates it, with a TTL like any other.
			UpdateExpression:         aws.String("SET #status = :ok, code = :code, finishedAt = :at, kind = if_not_exists(kind, :kind), #ttl = if_not_exists(#ttl, :ttl) REMOVE #error"),
			ConditionExpression:      aws.String("attribute_not_exists(PK) OR #status <> :ok"),
			ExpressionAttributeNames: map[string]string{"#status": "status", "#ttl": AttrTTL, "#error": "error"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":ok": s(holder.RequestSucceeded), ":code": s(h.Code), ":at": ts(c.At), ":kind": s(what),
				":ttl": n(c.At.Add(requestRetention).Unix()),
			},
		}},
	)
	return items
}

// cancellation names the condition that stopped a transaction, by the
// order the items were added in Apply.
func cancellation(tc *types.TransactionCanceledException, c Change, extra int) error {
	failed := func(i int) bool {
		return i < len(tc.CancellationReasons) && aws.ToString(tc.CancellationReasons[i].Code) == "ConditionalCheckFailed"
	}
	i := 0
	if failed(i) {
		if c.Old.Version == 0 {
			return holder.ErrAlreadyIssued
		}
		return holder.ErrStaleHolder
	}
	i++
	if c.NewCode != "" {
		if failed(i) {
			return holder.ErrCodeTaken
		}
		i++
	}
	if c.RetireCode != "" {
		if failed(i) {
			return holder.ErrStaleHolder
		}
		i++
	}
	if failed(i + 1) {
		return holder.ErrApplied
	}
	for j := range extra {
		if failed(i + 2 + j) {
			return ErrItemRecorded
		}
	}
	for _, r := range tc.CancellationReasons {
		if code := aws.ToString(r.Code); code == "ThrottlingError" || code == "ProvisionedThroughputExceeded" {
			return translate("apply change", &types.ProvisionedThroughputExceededException{Message: aws.String(code)})
		}
	}
	return fmt.Errorf("apply change: transaction cancelled: %w", tc)
}

// Holder reads a holder; holder.ErrNoHolder when there is none.
func (st *CodeStore) Holder(ctx context.Context, hk string) (Holder, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: holderKey(hk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Holder{}, translate("get holder", err)
	}
	if len(out.Item) == 0 {
		return Holder{}, holder.ErrNoHolder
	}
	h := Holder{Key: hk, Sealed: map[string]string{}}
	h.Code, _ = str(out.Item, "code")
	h.Status, _ = str(out.Item, "status")
	h.SuspendedBy, _ = str(out.Item, "suspendedBy")
	h.IssuedAt = tsOf(out.Item, "issuedAt")
	h.ExpiresAt = tsOf(out.Item, "expiresAt")
	h.Due = tsOf(out.Item, "due")
	y, _ := num(out.Item, "reissueYear")
	r, _ := num(out.Item, "reissuesInYear")
	h.Version, _ = num(out.Item, "version")
	h.ReissueYear, h.ReissuesInYear = int(y), int(r)
	for name, av := range out.Item {
		if len(name) > 7 && name[:7] == "sealed_" {
			if v, ok := av.(*types.AttributeValueMemberS); ok {
				h.Sealed[name[7:]] = v.Value
			}
		}
	}
	return h, nil
}

// CodeOwner says which holder a code belongs to and whether it is live.
func (st *CodeStore) CodeOwner(ctx context.Context, code string) (holderKey, status string, err error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: codeKey(code), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", "", translate("get code", err)
	}
	if len(out.Item) == 0 {
		return "", "", holder.ErrNoHolder
	}
	holderKey, _ = str(out.Item, "holderKey")
	status, _ = str(out.Item, "status")
	return holderKey, status, nil
}

// DueOn lists the holders due on day (YYYY-MM-DD, a Korean day): codes
// that expire that day and expired codes whose renewal window ends that
// day, with their status. It reads the expiry index, so the daily job
// reads one day's holders instead of scanning the table.
func (st *CodeStore) DueOn(ctx context.Context, day string) ([]DueEntry, error) {
	var out []DueEntry
	err := byGSI1(ctx, st.db, st.table, "EXPIRY#"+day, false, 0, "query due", func(item map[string]types.AttributeValue) error {
		if sk, ok := str(item, AttrGSI1SK); ok && len(sk) > len("HOLDER#") {
			status, _ := str(item, "status")
			out = append(out, DueEntry{HolderKey: sk[len("HOLDER#"):], Status: status})
		}
		return nil
	})
	return out, err
}
