package dynamo

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/idempotency"
)

// IdempotencyAPI is the part of the DynamoDB client the idempotency store
// uses.
type IdempotencyAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// IdempotencyStore keeps idempotency records: IDEM#<scope>#<key> / IDEM.
// Times are epoch milliseconds so the claim's condition compares numbers;
// the TTL attribute cleans up a day after expiry, and expiry itself is
// checked in the condition, never left to TTL.
type IdempotencyStore struct {
	db    IdempotencyAPI
	table string
}

var _ idempotency.Store = (*IdempotencyStore)(nil)

// NewIdempotencyStore returns the store on table.
func NewIdempotencyStore(db IdempotencyAPI, table string) *IdempotencyStore {
	return &IdempotencyStore{db: db, table: table}
}

func idemKey(scope, key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s("IDEM#" + scope + "#" + key), AttrSK: s("IDEM")}
}

// Claim implements idempotency.Store.
func (st *IdempotencyStore) Claim(ctx context.Context, rec idempotency.Record, now time.Time) (idempotency.Record, bool, error) {
	item := idemKey(rec.Scope, rec.Key)
	item["status"] = s(rec.Status)
	item["payloadHash"] = s(rec.PayloadHash)
	item["inProgressUntil"] = n(rec.InProgressUntil.UnixMilli())
	item["expiresAt"] = n(rec.ExpiresAt.UnixMilli())
	item[AttrTTL] = n(rec.ExpiresAt.Add(24 * time.Hour).Unix())
	// Two tries: a record that expires between our failed claim and our
	// read is claimed on the second.
	for range 2 {
		_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(st.table), Item: item,
			ConditionExpression:      aws.String("attribute_not_exists(PK) OR expiresAt < :now OR (#status = :inprogress AND inProgressUntil < :now)"),
			ExpressionAttributeNames: map[string]string{"#status": "status"},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":now": n(now.UnixMilli()), ":inprogress": s(idempotency.InProgress),
			},
		})
		if err == nil {
			return rec, true, nil
		}
		var cf *types.ConditionalCheckFailedException
		if !errors.As(err, &cf) {
			return idempotency.Record{}, false, translate("claim idempotency key", err)
		}
		out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: idemKey(rec.Scope, rec.Key), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return idempotency.Record{}, false, translate("read idempotency key", err)
		}
		if len(out.Item) == 0 {
			continue
		}
		got := idempotency.Record{Scope: rec.Scope, Key: rec.Key}
		got.Status, _ = str(out.Item, "status")
		got.PayloadHash, _ = str(out.Item, "payloadHash")
		if o, ok := str(out.Item, "outcome"); ok {
			got.Outcome = []byte(o)
		}
		ipu, _ := num(out.Item, "inProgressUntil")
		exp, _ := num(out.Item, "expiresAt")
		got.InProgressUntil, got.ExpiresAt = time.UnixMilli(ipu), time.UnixMilli(exp)
		return got, false, nil
	}
	return idempotency.Record{}, false, errors.New("claim idempotency key: record changed twice while claiming")
}

// Complete implements idempotency.Store.
func (st *IdempotencyStore) Complete(ctx context.Context, rec idempotency.Record) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: idemKey(rec.Scope, rec.Key),
		UpdateExpression:         aws.String("SET #status = :done, outcome = :out, expiresAt = :exp, #ttl = :ttl"),
		ConditionExpression:      aws.String("#status = :inprogress AND payloadHash = :hash"),
		ExpressionAttributeNames: map[string]string{"#status": "status", "#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done": s(idempotency.Completed), ":out": s(string(rec.Outcome)), ":exp": n(rec.ExpiresAt.UnixMilli()),
			":ttl": n(rec.ExpiresAt.Add(24 * time.Hour).Unix()), ":inprogress": s(idempotency.InProgress), ":hash": s(rec.PayloadHash),
		},
	})
	if err != nil {
		return translate("complete idempotency key", err)
	}
	return nil
}

// Release implements idempotency.Store.
func (st *IdempotencyStore) Release(ctx context.Context, rec idempotency.Record) error {
	_, err := st.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(st.table), Key: idemKey(rec.Scope, rec.Key),
		ConditionExpression:      aws.String("#status = :inprogress AND payloadHash = :hash"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":inprogress": s(idempotency.InProgress), ":hash": s(rec.PayloadHash),
		},
	})
	var cf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &cf) {
		return translate("release idempotency key", err)
	}
	return nil
}
