package dynamo

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/clearance"
	"github.com/pccc/pccc/shared/stats"
)

// Clearance checks in the table. No item holds a name, phone or zip: the
// check's fields are compared and forgotten.
//
//   - CHECK#<checkId> / CHECK: one check, with the key that asked, the
//     code, the code's holder (when the code exists), the result and the
//     time. GSI1 = CHECKS#<holderKey> / <time>#<checkId>, so a holder's
//     checks are one query of the index (a later issue shows them to the
//     holder); checks of unknown codes have no holder and stay out of the
//     index. Kept CheckRetention.
//   - CHECKMISS#<code>#<day> / COUNT: mismatches of one code in one Korean
//     day, for the authority and for the hook that will warn the holder.
//     GSI1 = CHECKMISS#<day>#<shard> / <code> lists a day's codes with
//     mismatches; the shard (of 16, by the code) keeps a guessing run from
//     heating one index partition.

// sortTime is a fixed-width UTC time for sort keys: RFC3339Nano drops
// trailing zeros, and "…:05Z" sorts after "…:05.1Z".
const sortTime = "2006-01-02T15:04:05.000000000Z"

// CheckRetention is how long a check's record is kept.
const CheckRetention = 400 * 24 * time.Hour

// mismatchRetention is how long a day's mismatch counter is kept.
const mismatchRetention = 90 * 24 * time.Hour

const mismatchShards = 16

// Check is one clearance check as recorded.
type Check struct {
	ID        string
	KeyID     string
	Code      string
	HolderKey string // "" when the code names no holder
	Result    string
	At        time.Time
}

// CheckAPI is the part of the DynamoDB client the check store uses.
type CheckAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ CheckAPI = (*dynamodb.Client)(nil)

// CheckStore records clearance checks and counts mismatches.
type CheckStore struct {
	db    CheckAPI
	table string
	stats *Stats
}

// NewCheckStore returns the check store on table.
func NewCheckStore(db CheckAPI, table string) *CheckStore {
	return &CheckStore{db: db, table: table, stats: NewStats(nil, table)}
}

// Record stores a check and counts it by result (checks_match or
// checks_mismatch), in one transaction. A check id is 128 random bits; the
// condition only keeps a retried write from overwriting another check.
func (st *CheckStore) Record(ctx context.Context, c Check) error {
	at := c.At.UTC().Format(time.RFC3339Nano)
	item := map[string]types.AttributeValue{
		AttrPK: s("CHECK#" + c.ID), AttrSK: s("CHECK"),
		"checkId": s(c.ID), "keyId": s(c.KeyID), "code": s(c.Code), "result": s(c.Result), "at": s(at),
		AttrTTL: n(c.At.Add(CheckRetention).Unix()),
	}
	if c.HolderKey != "" {
		item["holderKey"] = s(c.HolderKey)
		item[AttrGSI1PK] = s("CHECKS#" + c.HolderKey)
		item[AttrGSI1SK] = s(c.At.UTC().Format(sortTime) + "#" + c.ID)
	}
	kind := stats.ChecksMismatch
	if c.Result == clearance.Match {
		kind = stats.ChecksMatch
	}
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	}}}
	err := transact(ctx, st.db, items, func() []types.TransactWriteItem { return st.stats.Items(Plus(c.At, kind)...) })
	if conditionFailed(err, 0) {
		return errors.New("record check: check id taken")
	}
	if err != nil {
		return translate("record check", err)
	}
	return nil
}

// conditionFailed says whether a transaction was cancelled by the
// condition of its item i.
func conditionFailed(err error, i int) bool {
	var tc *types.TransactionCanceledException
	return errors.As(err, &tc) && i < len(tc.CancellationReasons) && aws.ToString(tc.CancellationReasons[i].Code) == "ConditionalCheckFailed"
}

// MismatchKey is the partition key of a code's mismatch counter on day.
func MismatchKey(code, day string) string { return "CHECKMISS#" + code + "#" + day }

// CountMismatch adds one to the code's mismatches on day (YYYY-MM-DD, a
// Korean day) and returns the day's count so far.
//
// The counter is updated where it exists and put where it does not,
// instead of one upserting UpdateItem: minidyn, the embedded stack's
// DynamoDB, loses another item's index entry when an UpdateItem creates
// an item with index keys (v0.8.2, index.updateData), which hid the day's
// flagged codes and holders' checks from queries. Real DynamoDB does not
// care; the first mismatch of a code on a day costs one write more.
func (st *CheckStore) CountMismatch(ctx context.Context, code, day string, at time.Time) (int64, error) {
	key := map[string]types.AttributeValue{AttrPK: s(MismatchKey(code, day)), AttrSK: s("COUNT")}
	for range 2 {
		out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(st.table),
			Key:                       key,
			UpdateExpression:          aws.String("ADD #count :one SET lastAt = :at"),
			ConditionExpression:       aws.String("attribute_exists(PK)"),
			ExpressionAttributeNames:  map[string]string{"#count": "count"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":at": ts(at)},
			ReturnValues:              types.ReturnValueUpdatedNew,
		})
		var cf *types.ConditionalCheckFailedException
		if errors.As(err, &cf) {
			h := fnv.New32a()
			h.Write([]byte(code))
			shard := strconv.Itoa(int(h.Sum32() % mismatchShards))
			item := map[string]types.AttributeValue{
				AttrPK: key[AttrPK], AttrSK: key[AttrSK], "count": n(1), "code": s(code), "day": s(day), "lastAt": ts(at),
				AttrTTL: n(at.Add(mismatchRetention).Unix()), AttrGSI1PK: s("CHECKMISS#" + day + "#" + shard), AttrGSI1SK: s(code),
			}
			_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
				TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
			})
			if errors.As(err, &cf) {
				continue // another check put it first: add to it
			}
			if err != nil {
				return 0, translate("count mismatch", err)
			}
			return 1, nil
		}
		if err != nil {
			return 0, translate("count mismatch", err)
		}
		count, ok := num(out.Attributes, "count")
		if !ok {
			return 0, errors.New("count mismatch: no count returned")
		}
		return count, nil
	}
	return 0, errors.New("count mismatch: the counter keeps changing")
}

// ChecksOf lists a holder's latest checks, newest first, from the index:
// what a later issue shows the holder. It needs Query on GSI1, which the
// check function is not granted.
func (st *CheckStore) ChecksOf(ctx context.Context, hk string, limit int) ([]Check, error) {
	checks := []Check{}
	err := byGSI1(ctx, st.db, st.table, "CHECKS#"+hk, true, limit, "query checks", func(item map[string]types.AttributeValue) error {
		c := Check{At: tsOf(item, "at")}
		c.ID, _ = str(item, "checkId")
		c.KeyID, _ = str(item, "keyId")
		c.Code, _ = str(item, "code")
		c.HolderKey, _ = str(item, "holderKey")
		c.Result, _ = str(item, "result")
		checks = append(checks, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return checks, nil
}

// Codes with repeated mismatches, for the authority:
// CHECKFLAG#<code>#<day> / FLAG, written once a code's mismatches on a day
// reach the notice threshold and kept up to date after, with
// GSI1 = MISMATCHES#<day> / <code> so the day's flagged codes are one
// query. It holds the code, the day, the count and whether the holder's
// notice was queued; no personal data.

// MismatchFlag is one flagged code on one day.
type MismatchFlag struct {
	Code     string
	Day      string
	Count    int64
	FirstAt  time.Time
	LastAt   time.Time
	Notified bool // the holder's notice was queued
}

// FlagKey is the partition key of a code's flag on day.
func FlagKey(code, day string) string { return "CHECKFLAG#" + code + "#" + day }

// Flag records that code had count mismatches on day and reports whether
// the holder's notice was queued already. Like CountMismatch it updates
// the flag where it exists and puts it where it does not.
func (st *CheckStore) Flag(ctx context.Context, code, day string, count int64, at time.Time) (notified bool, err error) {
	key := map[string]types.AttributeValue{AttrPK: s(FlagKey(code, day)), AttrSK: s("FLAG")}
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table),
		Key:       key,
		// The count only grows: two checks crossing at once leave the
		// larger.
		UpdateExpression:          aws.String("SET #count = :count, lastAt = :at"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND #count < :count"),
		ExpressionAttributeNames:  map[string]string{"#count": "count"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": ts(at), ":count": n(count)},
		ReturnValues:              types.ReturnValueAllNew,
	})
	var cf *types.ConditionalCheckFailedException
	if err == nil {
		_, notified = out.Attributes["notifiedAt"]
		return notified, nil
	}
	if !errors.As(err, &cf) {
		return false, translate("flag mismatches", err)
	}
	item := map[string]types.AttributeValue{
		AttrPK: key[AttrPK], AttrSK: key[AttrSK], "code": s(code), "day": s(day), "count": n(count),
		"firstAt": ts(at), "lastAt": ts(at), AttrTTL: n(at.Add(mismatchRetention).Unix()),
		AttrGSI1PK: s("MISMATCHES#" + day), AttrGSI1SK: s(code),
	}
	_, err = st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if errors.As(err, &cf) {
		// A later count is there already (two checks at once). Whether
		// its writer queued the notice is unknown: queue it again, the
		// sender sends a notice once.
		return false, nil
	}
	if err != nil {
		return false, translate("flag mismatches", err)
	}
	return false, nil
}

// MarkNotified records that the holder's notice for code on day was queued.
func (st *CheckStore) MarkNotified(ctx context.Context, code, day string, at time.Time) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(st.table),
		Key:                       map[string]types.AttributeValue{AttrPK: s(FlagKey(code, day)), AttrSK: s("FLAG")},
		UpdateExpression:          aws.String("SET notifiedAt = if_not_exists(notifiedAt, :at)"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": ts(at)},
	})
	if err != nil {
		return translate("mark notified", err)
	}
	return nil
}

// Flagged lists the codes flagged on day (YYYY-MM-DD, a Korean day), in
// code order: what the authority sees. It needs Query on GSI1.
func (st *CheckStore) Flagged(ctx context.Context, day string) ([]MismatchFlag, error) {
	var flags []MismatchFlag
	err := byGSI1(ctx, st.db, st.table, "MISMATCHES#"+day, false, 0, "query flagged codes", func(item map[string]types.AttributeValue) error {
		f := MismatchFlag{FirstAt: tsOf(item, "firstAt"), LastAt: tsOf(item, "lastAt")}
		f.Code, _ = str(item, "code")
		f.Day, _ = str(item, "day")
		f.Count, _ = num(item, "count")
		_, f.Notified = item["notifiedAt"]
		flags = append(flags, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return flags, nil
}
