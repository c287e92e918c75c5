package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/stats"
)

// The authority's campaigns in the table. No personal data: codes,
// counts and states only.
//
//   - CAMP#<id> / CAMP: the campaign as asked for, its state, the list's
//     figures (from the reader's preparation), the reader's place in the
//     list (cursor: the lines read and queued) and the reports' keys.
//   - CAMP#<id> / TOTAL#<nn>: the work's counters, sharded like the
//     statistics (CampaignShards): every item adds one to one shard, in
//     the same transaction as its item record.
//   - CAMP#<id> / ITEM#<code>: what became of one code, created on the
//     condition that it is not there yet: each (campaign, code) is
//     carried out once, however often the queue delivers it.

// CampaignShards spreads a campaign's counters.
const CampaignShards = 16

// Errors of the campaign store.
var (
	ErrNoCampaign     = errors.New("no such campaign")
	ErrCampaignState  = errors.New("the campaign is not in a state that allows this")
	ErrItemRecorded   = errors.New("the campaign's item is recorded already")
	ErrCursorMoved    = errors.New("another reader moved the campaign's place in its list")
	errCampaignExists = errors.New("campaign id taken")
)

// CampaignAPI is the part of the DynamoDB client the campaign store uses.
type CampaignAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Campaign is a stored campaign.
type Campaign struct {
	ID            string
	Owner         string // the API key id that created it
	Action        string
	Reason        string
	RatePerSecond int
	DryRun        bool
	State         string
	// StateReason says why a campaign failed by itself.
	StateReason string
	ListKey     string // the list's object in the campaign bucket
	Upload      bool   // the list is uploaded by the authority
	CreatedAt   time.Time
	StartedAt   time.Time // confirmed
	EndedAt     time.Time
	// The list's figures, from the preparation.
	Listed, Invalid, Duplicate, Valid int64
	Preview                           []string
	SMSParts                          int64
	SMSPrice                          float64
	// Cursor is how many lines of the list the reader has queued;
	// Queued, how many items it put on the queue up to there.
	Cursor, Queued int64
	ReportKey      string
	FailedKey      string
}

// CampaignWork is a campaign's work counters, summed over the shards.
type CampaignWork struct {
	Done, SkippedUnknown, SkippedRetired, SkippedWrongState, Failed int64
}

// Counter attributes of the TOTAL# items, by outcome and reason.
const (
	CampaignDone        = "done"
	CampaignSkipUnknown = "skipped_unknown_code"
	CampaignSkipRetired = "skipped_already_retired"
	CampaignSkipState   = "skipped_wrong_state"
	CampaignFailed      = "failed"
)

// CampaignStore keeps campaigns.
type CampaignStore struct {
	db    CampaignAPI
	table string
	stats *Stats
}

// NewCampaignStore returns the store on table.
func NewCampaignStore(db CampaignAPI, table string) *CampaignStore {
	return &CampaignStore{db: db, table: table, stats: NewStats(nil, table)}
}

func campaignKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s("CAMP#" + id), AttrSK: s("CAMP")}
}

func campaignItemKey(id, code string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s("CAMP#" + id), AttrSK: s("ITEM#" + code)}
}

func boolAV(b bool) types.AttributeValue { return &types.AttributeValueMemberBOOL{Value: b} }

// Create stores a new campaign.
func (st *CampaignStore) Create(ctx context.Context, c Campaign) error {
	item := campaignKey(c.ID)
	item["owner"] = s(c.Owner)
	item["action"] = s(c.Action)
	item["reason"] = s(c.Reason)
	item["rate"] = n(int64(c.RatePerSecond))
	item["dryRun"] = boolAV(c.DryRun)
	item["state"] = s(c.State)
	item["listKey"] = s(c.ListKey)
	item["upload"] = boolAV(c.Upload)
	item["createdAt"] = ts(c.CreatedAt)
	item["cursor"] = n(0)
	item["queued"] = n(0)
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return errCampaignExists
	}
	if err != nil {
		return translate("create campaign", err)
	}
	return nil
}

// Get reads a campaign; ErrNoCampaign when there is none.
func (st *CampaignStore) Get(ctx context.Context, id string) (Campaign, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: campaignKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Campaign{}, translate("get campaign", err)
	}
	if len(out.Item) == 0 {
		return Campaign{}, ErrNoCampaign
	}
	it := out.Item
	c := Campaign{ID: id}
	c.Owner, _ = str(it, "owner")
	c.Action, _ = str(it, "action")
	c.Reason, _ = str(it, "reason")
	r, _ := num(it, "rate")
	c.RatePerSecond = int(r)
	if b, ok := it["dryRun"].(*types.AttributeValueMemberBOOL); ok {
		c.DryRun = b.Value
	}
	if b, ok := it["upload"].(*types.AttributeValueMemberBOOL); ok {
		c.Upload = b.Value
	}
	c.State, _ = str(it, "state")
	c.StateReason, _ = str(it, "stateReason")
	c.ListKey, _ = str(it, "listKey")
	c.CreatedAt, c.StartedAt, c.EndedAt = tsOf(it, "createdAt"), tsOf(it, "startedAt"), tsOf(it, "endedAt")
	c.Listed, _ = num(it, "listed")
	c.Invalid, _ = num(it, "invalid")
	c.Duplicate, _ = num(it, "duplicate")
	c.Valid, _ = num(it, "valid")
	c.SMSParts, _ = num(it, "smsParts")
	c.SMSPrice, _ = float(it, "smsPrice")
	c.Cursor, _ = num(it, "cursor")
	c.Queued, _ = num(it, "queued")
	c.ReportKey, _ = str(it, "reportKey")
	c.FailedKey, _ = str(it, "failedKey")
	if l, ok := it["preview"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if sv, ok := v.(*types.AttributeValueMemberS); ok {
				c.Preview = append(c.Preview, sv.Value)
			}
		}
	}
	return c, nil
}

// Transition moves a campaign from one of from to to, setting set too
// (attribute name to value). ErrCampaignState when it is in none of from.
func (st *CampaignStore) Transition(ctx context.Context, id string, from []string, to string, set map[string]types.AttributeValue) error {
	names := map[string]string{"#state": "state"}
	values := map[string]types.AttributeValue{":to": s(to)}
	expr := []string{"#state = :to"}
	var conds []string
	for i, f := range from {
		k := fmt.Sprintf(":f%d", i)
		values[k] = s(f)
		conds = append(conds, k)
	}
	i := 0
	for name, v := range set {
		nk, vk := fmt.Sprintf("#s%d", i), fmt.Sprintf(":s%d", i)
		names[nk], values[vk] = name, v
		expr = append(expr, nk+" = "+vk)
		i++
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: campaignKey(id),
		UpdateExpression:          aws.String("SET " + strings.Join(expr, ", ")),
		ConditionExpression:       aws.String("attribute_exists(PK) AND #state IN (" + strings.Join(conds, ", ") + ")"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return ErrCampaignState
	}
	if err != nil {
		return translate("campaign state", err)
	}
	return nil
}

// Prepared is what the preparation found in a list.
type Prepared struct {
	Listed, Invalid, Duplicate, Valid int64
	Preview                           []string
	SMSParts                          int64
	SMSPrice                          float64
}

// Attrs are the preparation's figures as attributes, for Transition.
func (p Prepared) Attrs() map[string]types.AttributeValue {
	prev := make([]types.AttributeValue, 0, len(p.Preview))
	for _, c := range p.Preview {
		prev = append(prev, s(c))
	}
	return map[string]types.AttributeValue{
		"listed": n(p.Listed), "invalid": n(p.Invalid), "duplicate": n(p.Duplicate), "valid": n(p.Valid),
		"preview": &types.AttributeValueMemberL{Value: prev}, "smsParts": n(p.SMSParts),
		"smsPrice": &types.AttributeValueMemberN{Value: strconv.FormatFloat(p.SMSPrice, 'f', 2, 64)},
	}
}

// TimeAttr is a time as the store keeps it.
func TimeAttr(t time.Time) types.AttributeValue { return ts(t) }

// StringAttr is a string as the store keeps it.
func StringAttr(v string) types.AttributeValue { return s(v) }

// SaveCursor moves the reader's place from old to next lines, with queued
// items queued up to there, while the campaign is active or paused; the
// condition on the old place stops a second reader.
func (st *CampaignStore) SaveCursor(ctx context.Context, id string, old, next, queued int64) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: campaignKey(id),
		UpdateExpression:          aws.String("SET #cursor = :next, queued = :q"),
		ConditionExpression:       aws.String("#cursor = :old"),
		ExpressionAttributeNames:  map[string]string{"#cursor": "cursor"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":next": n(next), ":q": n(queued), ":old": n(old)},
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return ErrCursorMoved
	}
	if err != nil {
		return translate("save campaign cursor", err)
	}
	return nil
}

// Work sums a campaign's counters.
func (st *CampaignStore) Work(ctx context.Context, id string) (CampaignWork, error) {
	var w CampaignWork
	in := &dynamodb.QueryInput{
		TableName: aws.String(st.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :t)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("CAMP#" + id), ":t": s("TOTAL#")},
	}
	for p := dynamodb.NewQueryPaginator(st.db, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return CampaignWork{}, translate("read campaign totals", err)
		}
		for _, it := range page.Items {
			add := func(name string, dst *int64) {
				v, _ := num(it, name)
				*dst += v
			}
			add(CampaignDone, &w.Done)
			add(CampaignSkipUnknown, &w.SkippedUnknown)
			add(CampaignSkipRetired, &w.SkippedRetired)
			add(CampaignSkipState, &w.SkippedWrongState)
			add(CampaignFailed, &w.Failed)
		}
	}
	return w, nil
}

// ItemRecord is the outcome of one code of a campaign, to record.
type ItemRecord struct {
	Campaign, Code string
	// Counter is the TOTAL# attribute it adds one to (CampaignDone, ...);
	// Outcome and Reason what the report says.
	Counter, Outcome, Reason string
	At                       time.Time
	// Counts are the day's statistics it adds one to.
	Counts []stats.Kind
}

// itemItems are the transaction items that record it: the item record,
// created only if absent, and one to a counter shard.
func (st *CampaignStore) itemItems(r ItemRecord) []types.TransactWriteItem {
	item := campaignItemKey(r.Campaign, r.Code)
	item["outcome"] = s(r.Outcome)
	item["at"] = ts(r.At)
	if r.Reason != "" {
		item["reason"] = s(r.Reason)
	}
	return []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
		{Update: &types.Update{
			TableName:                 aws.String(st.table),
			Key:                       map[string]types.AttributeValue{AttrPK: s("CAMP#" + r.Campaign), AttrSK: s(fmt.Sprintf("TOTAL#%02d", rand.IntN(CampaignShards)))},
			UpdateExpression:          aws.String("ADD #c :one"),
			ExpressionAttributeNames:  map[string]string{"#c": r.Counter},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)},
		}},
	}
}

// Record records an item that changes nothing else (skipped, failed, a
// notice): its record, its counter and its statistics in one
// transaction. ErrItemRecorded when it was recorded before.
func (st *CampaignStore) Record(ctx context.Context, r ItemRecord) error {
	var items []types.TransactWriteItem
	var err error
	for attempt := range 6 {
		if attempt > 0 {
			time.Sleep(time.Duration(rand.Int64N(int64(5 * time.Millisecond * time.Duration(attempt)))))
		}
		items = append(st.itemItems(r), st.stats.Items(Plus(r.At, r.Counts...)...)...)
		_, err = st.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if !conflicted(err) {
			break
		}
	}
	if err == nil {
		return nil
	}
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) && len(tc.CancellationReasons) > 0 && aws.ToString(tc.CancellationReasons[0].Code) == "ConditionalCheckFailed" {
		return ErrItemRecorded
	}
	return translate("record campaign item", err)
}

// ChangeItems are the items that record an item whose change is applied
// in the change's own transaction (Change.Extra).
func (st *CampaignStore) ChangeItems(r ItemRecord) []types.TransactWriteItem { return st.itemItems(r) }

// Outcome reads an item's record ("" when there is none).
func (st *CampaignStore) Outcome(ctx context.Context, id, code string) (outcome, reason string, err error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: campaignItemKey(id, code), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", "", translate("get campaign item", err)
	}
	outcome, _ = str(out.Item, "outcome")
	reason, _ = str(out.Item, "reason")
	return outcome, reason, nil
}

// Items hands each item record of a campaign to each.
func (st *CampaignStore) Items(ctx context.Context, id string, each func(code, outcome, reason string)) error {
	in := &dynamodb.QueryInput{
		TableName: aws.String(st.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :t)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("CAMP#" + id), ":t": s("ITEM#")},
	}
	for p := dynamodb.NewQueryPaginator(st.db, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return translate("read campaign items", err)
		}
		for _, it := range page.Items {
			sk, _ := str(it, AttrSK)
			o, _ := str(it, "outcome")
			r, _ := str(it, "reason")
			each(strings.TrimPrefix(sk, "ITEM#"), o, r)
		}
	}
	return nil
}
