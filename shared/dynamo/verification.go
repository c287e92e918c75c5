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
	"github.com/pccc/pccc/shared/stats"
)

// VerificationAPI is the part of the DynamoDB client VerificationStore uses.
type VerificationAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ VerificationAPI = (*dynamodb.Client)(nil)

// VerificationStore keeps verifications as items PK=VER#<id>, SK=VER with
// the holder key, the sealed identity, the step and the times.
type VerificationStore struct {
	db    VerificationAPI
	table string
	now   func() time.Time
	stats *Stats
}

var (
	_ identity.VerificationStore = (*VerificationStore)(nil)
	_ identity.ChallengeStore    = (*VerificationStore)(nil)
)

// NewVerificationStore returns a store on table; now is the clock expiry is
// checked against (nil: time.Now).
func NewVerificationStore(db VerificationAPI, table string, now func() time.Time) *VerificationStore {
	if now == nil {
		now = time.Now
	}
	return &VerificationStore{db: db, table: table, now: now, stats: NewStats(nil, table)}
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
	put := []types.TransactWriteItem{{Put: &types.Put{
		TableName:           aws.String(st.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(PK)"),
	}}}
	err := transact(ctx, st.db, put, func() []types.TransactWriteItem {
		return st.stats.Items(Plus(v.CreatedAt, stats.RealNameMatched)...)
	})
	if conditionFailed(err, 0) {
		return errors.New("put verification: id already taken")
	}
	if err != nil {
		return translate("put verification", err)
	}
	return nil
}

// Unmatched counts a real-name check the bureau did not match.
func (st *VerificationStore) Unmatched(ctx context.Context, at time.Time) error {
	for _, in := range st.stats.UpdateInputs(Plus(at, stats.RealNameUnmatched)...) {
		if _, err := st.db.UpdateItem(ctx, in); err != nil {
			return translate("count real-name check", err)
		}
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
	v := identity.Verification{
		ID: id, HolderKey: holder, Identity: sealed, Step: identity.Step(step),
		CreatedAt: created, ExpiresAt: expires,
	}
	v.Challenge.CodeHash, _ = str(item, "codeHash")
	v.Phone, _ = str(item, "phone")
	if t, ok := str(item, "codeSentAt"); ok {
		v.Challenge.SentAt, _ = time.Parse(time.RFC3339Nano, t)
	}
	if t, ok := str(item, "codeExpiresAt"); ok {
		v.Challenge.ExpiresAt, _ = time.Parse(time.RFC3339Nano, t)
	}
	f, _ := num(item, "failures")
	sends, _ := num(item, "sends")
	v.Challenge.Failures, v.Challenge.Sends = int(f), int(sends)
	pf, _ := num(item, "phoneFailures")
	v.PhoneFailures = int(pf)
	v.Challenge.Used = boolean(item, "used")
	v.DeliveryFailed = boolean(item, "deliveryFailed")
	v.DeliveryLate = boolean(item, "deliveryLate")
	return v, nil
}

func boolean(item map[string]types.AttributeValue, name string) bool {
	b, ok := item[name].(*types.AttributeValueMemberBOOL)
	return ok && b.Value
}

// SaveChallenge writes the SMS step's new state over the old one, on the
// condition that the stored state is still old: two concurrent attempts
// cannot both spend the same try, and a send cannot overwrite a check.
// A lost race is identity.ErrStale.
func (st *VerificationStore) SaveChallenge(ctx context.Context, id string, old, new identity.Verification) error {
	c := new.Challenge
	values := map[string]types.AttributeValue{
		":step": s(string(new.Step)), ":hash": s(c.CodeHash), ":phone": s(new.Phone),
		":sent": s(c.SentAt.UTC().Format(time.RFC3339Nano)), ":exp": s(c.ExpiresAt.UTC().Format(time.RFC3339Nano)),
		":f": n(int64(c.Failures)), ":sends": n(int64(c.Sends)), ":used": &types.AttributeValueMemberBOOL{Value: c.Used},
		":oldSends": n(int64(old.Challenge.Sends)), ":oldF": n(int64(old.Challenge.Failures)),
		":false": &types.AttributeValueMemberBOOL{Value: false},
		":df":    &types.AttributeValueMemberBOOL{Value: new.DeliveryFailed},
		":dl":    &types.AttributeValueMemberBOOL{Value: new.DeliveryLate},
	}
	// Expression attribute names throughout: some of these words are
	// reserved in DynamoDB's expression language.
	cond := "attribute_exists(PK) AND (attribute_not_exists(#used) OR #used = :false)"
	if old.Challenge.Sends == 0 {
		cond += " AND attribute_not_exists(#sends)"
	} else {
		cond += " AND #sends = :oldSends AND #failures = :oldF"
	}
	if old.Challenge.Sends == 0 {
		delete(values, ":oldSends")
		delete(values, ":oldF")
	}
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: verificationKey(id),
		UpdateExpression: aws.String("SET #step = :step, #hash = :hash, #phone = :phone, #sent = :sent, " +
			"#exp = :exp, #failures = :f, #sends = :sends, #used = :used, #df = :df, #dl = :dl"),
		ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: map[string]string{"#step": "step", "#hash": "codeHash", "#phone": "phone",
			"#sent": "codeSentAt", "#exp": "codeExpiresAt", "#failures": "failures", "#sends": "sends", "#used": "used",
			"#df": "deliveryFailed", "#dl": "deliveryLate"},
		ExpressionAttributeValues: values,
	})
	if err != nil {
		var cf *types.ConditionalCheckFailedException
		if errors.As(err, &cf) {
			return identity.ErrStale
		}
		return translate("save challenge", err)
	}
	return nil
}

// TakePhoneTry counts a carrier check against the verification while it
// has had fewer than limit failed ones: one atomic, conditional add, so
// parallel requests cannot take more. false: the budget is spent (or the
// verification is gone, which the caller read a moment ago).
func (st *VerificationStore) TakePhoneTry(ctx context.Context, id string, limit int) (bool, error) {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: verificationKey(id),
		UpdateExpression:          aws.String("ADD #pf :one"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND (attribute_not_exists(#pf) OR #pf < :limit)"),
		ExpressionAttributeNames:  map[string]string{"#pf": "phoneFailures"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":limit": n(int64(limit))},
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return false, nil
	}
	if err != nil {
		return false, translate("take phone try", err)
	}
	return true, nil
}

// GivePhoneTry takes back a carrier check that did not fail.
func (st *VerificationStore) GivePhoneTry(ctx context.Context, id string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: verificationKey(id),
		UpdateExpression:          aws.String("ADD #pf :minus"),
		ConditionExpression:       aws.String("#pf > :zero"),
		ExpressionAttributeNames:  map[string]string{"#pf": "phoneFailures"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":minus": n(-1), ":zero": n(0)},
	})
	var cf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &cf) {
		return translate("give phone try", err)
	}
	return nil
}

// MarkDeliveryFailed records that the code's SMS could not be delivered.
func (st *VerificationStore) MarkDeliveryFailed(ctx context.Context, id string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: verificationKey(id),
		UpdateExpression:          aws.String("SET deliveryFailed = :t"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return nil // gone already: nothing left to mark
	}
	if err != nil {
		return translate("mark delivery failed", err)
	}
	return nil
}

// MarkDeliveryLate records that send number send of the verification's
// code was dropped as too late to reach the phone before it expired. A
// newer code (another send number) is left alone.
func (st *VerificationStore) MarkDeliveryLate(ctx context.Context, id string, send int) error {
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: verificationKey(id),
		UpdateExpression:          aws.String("SET deliveryLate = :t"),
		ConditionExpression:       aws.String("attribute_exists(PK)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberBOOL{Value: true}},
	}
	if send > 0 {
		in.ConditionExpression = aws.String("attribute_exists(PK) AND sends = :send")
		in.ExpressionAttributeValues[":send"] = n(int64(send))
	}
	_, err := st.db.UpdateItem(ctx, in)
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return nil // gone, or a newer code was sent: nothing to mark
	}
	if err != nil {
		return translate("mark delivery late", err)
	}
	return nil
}
