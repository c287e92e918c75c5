// Package dynamo holds the DynamoDB adapters. Everything lives in one table
// (template.yaml's Table): string keys PK and SK, a general index GSI1
// (GSI1PK, GSI1SK) and a TTL attribute "ttl" in epoch seconds. TTL only
// cleans up; the code checks expiry itself.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/identity"
)

// ItemAPI is the part of the DynamoDB client the adapters use.
type ItemAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var _ ItemAPI = (*dynamodb.Client)(nil)

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v int64) types.AttributeValue  { return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)} }

func str(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func num(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		i, _ := strconv.ParseInt(v.Value, 10, 64)
		return i
	}
	return 0
}

// VerificationStore keeps verifications as PK=VER#<id>, SK=VER.
type VerificationStore struct {
	DB    ItemAPI
	Table string
	Now   func() time.Time
}

var _ identity.VerificationStore = (*VerificationStore)(nil)

func verificationKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": s("VER#" + id), "SK": s("VER")}
}

// Put stores a new verification; an id already taken is an error (ids are
// random, so that means a bug, not a collision to retry).
func (st *VerificationStore) Put(ctx context.Context, v identity.Verification) error {
	item := verificationKey(v.ID)
	item["holderKey"] = s(v.HolderKey)
	item["identity"] = s(v.Identity)
	item["step"] = s(string(v.Step))
	item["createdAt"] = s(v.CreatedAt.UTC().Format(time.RFC3339Nano))
	item["expiresAt"] = s(v.ExpiresAt.UTC().Format(time.RFC3339Nano))
	// Keep the item a day past expiry so support can see what happened.
	item["ttl"] = n(v.ExpiresAt.Add(24 * time.Hour).Unix())
	_, err := st.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(st.Table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err != nil {
		return fmt.Errorf("put verification: %w", err)
	}
	return nil
}

// Get returns a verification that exists and has not expired.
func (st *VerificationStore) Get(ctx context.Context, id string) (identity.Verification, error) {
	out, err := st.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(st.Table), Key: verificationKey(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return identity.Verification{}, fmt.Errorf("get verification: %w", err)
	}
	if len(out.Item) == 0 {
		return identity.Verification{}, identity.ErrNoVerification
	}
	created, err1 := time.Parse(time.RFC3339Nano, str(out.Item, "createdAt"))
	expires, err2 := time.Parse(time.RFC3339Nano, str(out.Item, "expiresAt"))
	if err := errors.Join(err1, err2); err != nil {
		return identity.Verification{}, fmt.Errorf("verification item: %w", err)
	}
	v := identity.Verification{
		ID: id, HolderKey: str(out.Item, "holderKey"), Identity: str(out.Item, "identity"),
		Step: identity.Step(str(out.Item, "step")), CreatedAt: created, ExpiresAt: expires,
	}
	if v.Expired(st.Now()) {
		return identity.Verification{}, identity.ErrNoVerification
	}
	return v, nil
}

// Limiter counts events in fixed windows with atomic counters:
// PK=RATE#<key>, SK=<window start>, expiring with the window.
type Limiter struct {
	DB    ItemAPI
	Table string
	Now   func() time.Time
}

var _ identity.Limiter = (*Limiter)(nil)

// Allow counts one event and says whether it is within limit.
func (l *Limiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	now := l.Now()
	start := now.Truncate(window)
	end := start.Add(window)
	out, err := l.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(l.Table),
		Key: map[string]types.AttributeValue{
			"PK": s("RATE#" + key), "SK": s(strconv.FormatInt(start.Unix(), 10)),
		},
		UpdateExpression:          aws.String("ADD #c :one SET #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#c": "count", "#ttl": "ttl"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":ttl": n(end.Add(time.Hour).Unix())},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return false, 0, fmt.Errorf("count %s: %w", "rate window", err)
	}
	if num(out.Attributes, "count") > int64(limit) {
		return false, end.Sub(now), nil
	}
	return true, 0, nil
}
