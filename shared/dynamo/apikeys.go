package dynamo

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/apikey"
)

// API keys of brokers and shops: APIKEY#<id> / APIKEY holds the owner, the
// rate limit, the SHA-256 of the secret (never the secret), whether the
// key is revoked and when. GSI1 = APIKEYS / <created>#<id> lets the
// operator list the keys without a scan; nothing else queries that
// partition of the index, and it grows by one item per key handed out.

const apiKeysIndexPK = "APIKEYS"

// APIKeyAPI is the part of the DynamoDB client the key store uses.
type APIKeyAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ APIKeyAPI = (*dynamodb.Client)(nil)

// APIKeyStore keeps API keys.
type APIKeyStore struct {
	db    APIKeyAPI
	table string
}

var _ apikey.Reader = (*APIKeyStore)(nil)

// NewAPIKeyStore returns the key store on table.
func NewAPIKeyStore(db APIKeyAPI, table string) *APIKeyStore {
	return &APIKeyStore{db: db, table: table}
}

func apiKeyKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s("APIKEY#" + id), AttrSK: s("APIKEY")}
}

// Create stores a new key; apikey.ErrExists if its id is taken.
func (st *APIKeyStore) Create(ctx context.Context, r apikey.Record) error {
	item := apiKeyKey(r.ID)
	item["keyId"] = s(r.ID)
	item["owner"] = s(r.Owner)
	role := r.Role
	if role == "" {
		role = apikey.Broker
	}
	item["role"] = s(string(role))
	item["ratePerMinute"] = n(int64(r.RatePerMinute))
	item["hash"] = s(r.Hash)
	item["revoked"] = &types.AttributeValueMemberBOOL{Value: false}
	item["createdAt"] = ts(r.CreatedAt)
	item[AttrGSI1PK] = s(apiKeysIndexPK)
	item[AttrGSI1SK] = s(r.CreatedAt.UTC().Format(sortTime) + "#" + r.ID)
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return apikey.ErrExists
	}
	if err != nil {
		return translate("create API key", err)
	}
	return nil
}

// Key reads a key; apikey.ErrNoKey when there is none. The read is
// eventually consistent: a revocation takes effect within about a second.
func (st *APIKeyStore) Key(ctx context.Context, id string) (apikey.Record, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: apiKeyKey(id)})
	if err != nil {
		return apikey.Record{}, translate("get API key", err)
	}
	if len(out.Item) == 0 {
		return apikey.Record{}, apikey.ErrNoKey
	}
	return apiKeyOf(out.Item), nil
}

func apiKeyOf(item map[string]types.AttributeValue) apikey.Record {
	var r apikey.Record
	r.ID, _ = str(item, "keyId")
	r.Owner, _ = str(item, "owner")
	r.Role = apikey.Broker // keys made before roles
	if role, ok := str(item, "role"); ok && role != "" {
		r.Role = apikey.Role(role)
	}
	r.Hash, _ = str(item, "hash")
	rate, _ := num(item, "ratePerMinute")
	r.RatePerMinute = int(rate)
	if v, ok := item["revoked"].(*types.AttributeValueMemberBOOL); ok {
		r.Revoked = v.Value
	}
	r.CreatedAt = tsOf(item, "createdAt")
	r.RevokedAt = tsOf(item, "revokedAt")
	return r
}

// Revoke marks a key revoked; apikey.ErrNoKey if there is none. Revoking
// twice keeps the first time.
func (st *APIKeyStore) Revoke(ctx context.Context, id string, at time.Time) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: apiKeyKey(id),
		UpdateExpression:          aws.String("SET revoked = :t, revokedAt = if_not_exists(revokedAt, :at)"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}, ":at": ts(at)},
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return apikey.ErrNoKey
	}
	if err != nil {
		return translate("revoke API key", err)
	}
	return nil
}

// List returns every key, oldest first.
func (st *APIKeyStore) List(ctx context.Context) ([]apikey.Record, error) {
	var out []apikey.Record
	err := byGSI1(ctx, st.db, st.table, apiKeysIndexPK, false, 0, "list API keys", func(item map[string]types.AttributeValue) error {
		out = append(out, apiKeyOf(item))
		return nil
	})
	return out, err
}
