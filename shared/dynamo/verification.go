package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/identity"
)

// VerificationAPI is the part of the DynamoDB client VerificationStore uses.
type VerificationAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

var _ VerificationAPI = (*dynamodb.Client)(nil)

// VerificationStore keeps verifications as items PK=VER#<id>, SK=VER with
// the holder key, the sealed identity, the step and the times.
type VerificationStore struct {
	db    VerificationAPI
	table string
	now   func() time.Time
}

var _ identity.VerificationStore = (*VerificationStore)(nil)

// NewVerificationStore returns a store on table; now is the clock expiry is
// checked against (nil: time.Now).
func NewVerificationStore(db VerificationAPI, table string, now func() time.Time) *VerificationStore {
	if now == nil {
		now = time.Now
	}
	return &VerificationStore{db: db, table: table, now: now}
}

// verificationGrace keeps an expired verification a day longer before TTL
// removes it, so support can see what happened to a failed attempt.
const verificationGrace = 24 * time.Hour

func verificationKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s("VER#" + id), AttrSK: s("VER")}
}

// Put stores a new verification. An id that is already taken is an error,
// never an overwrite: ids are 128 random bits, so it means a bug.
func (st *VerificationStore) Put(ctx context.Context, v identity.Verification) error {
	item := verificationKey(v.ID)
	item["holderKey"] = s(v.HolderKey)
	item["identity"] = s(v.Identity)
	item["step"] = s(string(v.Step))
	item["createdAt"] = s(v.CreatedAt.UTC().Format(time.RFC3339Nano))
	item["expiresAt"] = s(v.ExpiresAt.UTC().Format(time.RFC3339Nano))
	item[AttrTTL] = n(v.ExpiresAt.Add(verificationGrace).Unix())
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(st.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err != nil {
		var cond *types.ConditionalCheckFailedException
		if errors.As(err, &cond) {
			return errors.New("put verification: id already taken")
		}
		return translate("put verification", err)
	}
	return nil
}

// Get returns a verification that exists and has not expired, or
// identity.ErrNoVerification.
func (st *VerificationStore) Get(ctx context.Context, id string) (identity.Verification, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(st.table), Key: verificationKey(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return identity.Verification{}, translate("get verification", err)
	}
	if len(out.Item) == 0 {
		return identity.Verification{}, identity.ErrNoVerification
	}
	v, err := decodeVerification(id, out.Item)
	if err != nil {
		return identity.Verification{}, err
	}
	if v.Expired(st.now()) {
		return identity.Verification{}, identity.ErrNoVerification
	}
	return v, nil
}

func decodeVerification(id string, item map[string]types.AttributeValue) (identity.Verification, error) {
	holder, ok1 := str(item, "holderKey")
	sealed, ok2 := str(item, "identity")
	step, ok3 := str(item, "step")
	createdS, ok4 := str(item, "createdAt")
	expiresS, ok5 := str(item, "expiresAt")
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return identity.Verification{}, errors.New("verification item: missing attributes")
	}
	created, err1 := time.Parse(time.RFC3339Nano, createdS)
	expires, err2 := time.Parse(time.RFC3339Nano, expiresS)
	if err := errors.Join(err1, err2); err != nil {
		return identity.Verification{}, fmt.Errorf("verification item: %w", err)
	}
	return identity.Verification{
		ID: id, HolderKey: holder, Identity: sealed, Step: identity.Step(step),
		CreatedAt: created, ExpiresAt: expires,
	}, nil
}
