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
}

var _ CheckAPI = (*dynamodb.Client)(nil)

// CheckStore records clearance checks and counts mismatches.
type CheckStore struct {
	db    CheckAPI
	table string
}

// NewCheckStore returns the check store on table.
func NewCheckStore(db CheckAPI, table string) *CheckStore {
	return &CheckStore{db: db, table: table}
}

// Record stores a check. A check id is 128 random bits; the condition
// only keeps a retried write from overwriting another check.
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
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return errors.New("record check: check id taken")
	}
	if err != nil {
		return translate("record check", err)
	}
	return nil
}

// MismatchKey is the partition key of a code's mismatch counter on day.
func MismatchKey(code, day string) string { return "CHECKMISS#" + code + "#" + day }

// CountMismatch adds one to the code's mismatches on day (YYYY-MM-DD, a
// Korean day) and returns the day's count so far.
func (st *CheckStore) CountMismatch(ctx context.Context, code, day string, at time.Time) (int64, error) {
	h := fnv.New32a()
	h.Write([]byte(code))
	shard := strconv.Itoa(int(h.Sum32() % mismatchShards))
	out, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(st.table),
		Key:              map[string]types.AttributeValue{AttrPK: s(MismatchKey(code, day)), AttrSK: s("COUNT")},
		UpdateExpression: aws.String("ADD #count :one SET code = :code, #day = :day, lastAt = :at, #ttl = :ttl, #gpk = :gpk, #gsk = :code"),
		ExpressionAttributeNames: map[string]string{
			"#count": "count", "#day": "day", "#ttl": AttrTTL, "#gpk": AttrGSI1PK, "#gsk": AttrGSI1SK,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": n(1), ":code": s(code), ":day": s(day), ":at": ts(at),
			":ttl": n(at.Add(mismatchRetention).Unix()), ":gpk": s("CHECKMISS#" + day + "#" + shard),
		},
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, translate("count mismatch", err)
	}
	count, ok := num(out.Attributes, "count")
	if !ok {
		return 0, errors.New("count mismatch: no count returned")
	}
	return count, nil
}

// ChecksOf lists a holder's latest checks, newest first, from the index:
// what a later issue shows the holder. It needs Query on GSI1, which the
// check function is not granted.
func (st *CheckStore) ChecksOf(ctx context.Context, hk string, limit int) ([]Check, error) {
	out, err := st.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(st.table),
		IndexName:                 aws.String(IndexGSI1),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": AttrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": s("CHECKS#" + hk)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, translate("query checks", err)
	}
	checks := make([]Check, 0, len(out.Items))
	for _, item := range out.Items {
		var c Check
		c.ID, _ = str(item, "checkId")
		c.KeyID, _ = str(item, "keyId")
		c.Code, _ = str(item, "code")
		c.HolderKey, _ = str(item, "holderKey")
		c.Result, _ = str(item, "result")
		if v, ok := str(item, "at"); ok {
			c.At, _ = time.Parse(time.RFC3339Nano, v)
		}
		checks = append(checks, c)
	}
	return checks, nil
}
