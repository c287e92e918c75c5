package dynamo

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/holder"
)

// requestRetention keeps a finished request readable for a week.
const requestRetention = 7 * 24 * time.Hour

// RequestAPI is the part of the DynamoDB client the request store uses.
type RequestAPI interface {
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// RequestStore keeps command requests: REQ#<id> / REQ.
type RequestStore struct {
	db    RequestAPI
	table string
}

// NewRequestStore returns the request store on table.
func NewRequestStore(db RequestAPI, table string) *RequestStore {
	return &RequestStore{db: db, table: table}
}

// Queue records a new request as queued; an id already used is an error.
func (st *RequestStore) Queue(ctx context.Context, r holder.Request) error {
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(st.table), Item: queuedItem(r), ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err != nil {
		return translate("queue request", err)
	}
	return nil
}

func queuedItem(r holder.Request) map[string]types.AttributeValue {
	item := requestKey(r.ID)
	item["owner"] = s(r.Owner)
	item["kind"] = s(r.Kind)
	item["status"] = s(holder.RequestQueued)
	item["createdAt"] = ts(r.CreatedAt)
	if r.Position > 0 {
		item["position"] = n(int64(r.Position))
	}
	if r.PayloadHash != "" {
		item["payloadHash"] = s(r.PayloadHash)
		item["keyUntil"] = n(r.KeyUntil.UnixMilli())
	}
	item[AttrTTL] = n(r.CreatedAt.Add(requestRetention).Unix())
	return item
}

// Claim records a keyed request as queued, unless its id holds a request
// whose key is still remembered: then it returns that request and false.
// The request record is the key's only record, so a keyed command costs
// one write, and the claim and the record cannot disagree. A request that
// never reached the queue (Unsent) gives its key back at once, as does one
// whose KeyUntil has passed.
func (st *RequestStore) Claim(ctx context.Context, r holder.Request, now time.Time) (holder.Request, bool, error) {
	// Two tries: a request that gives its key back between our failed
	// claim and our read is claimed on the second.
	for range 2 {
		_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(st.table), Item: queuedItem(r),
			ConditionExpression:                 aws.String("attribute_not_exists(PK) OR keyUntil < :now OR (#status = :failed AND unsent = :yes)"),
			ExpressionAttributeNames:            map[string]string{"#status": "status"},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": n(now.UnixMilli()), ":failed": s(holder.RequestFailed), ":yes": &types.AttributeValueMemberBOOL{Value: true}},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return r, true, nil
		}
		var cf *types.ConditionalCheckFailedException
		if !errors.As(err, &cf) {
			return holder.Request{}, false, translate("claim request", err)
		}
		if len(cf.Item) > 0 {
			return requestOf(r.ID, cf.Item), false, nil
		}
		// Not every emulator returns the item with the refusal.
		got, err := st.Get(ctx, r.ID)
		if errors.Is(err, holder.ErrNoRequest) {
			continue
		}
		return got, false, err
	}
	return holder.Request{}, false, errors.New("claim request: record changed twice while claiming")
}

// Refuse turns a claimed request into a stored refusal for replays of its
// key; refusal is the answer as JSON.
func (st *RequestStore) Refuse(ctx context.Context, id, payloadHash, refusal string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: requestKey(id),
		UpdateExpression:          aws.String("SET #status = :refused, refusal = :refusal"),
		ConditionExpression:       aws.String("#status = :queued AND payloadHash = :hash"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":refused": s(holder.RequestRefused), ":refusal": s(refusal), ":queued": s(holder.RequestQueued), ":hash": s(payloadHash)},
	})
	var cf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &cf) {
		return translate("refuse request", err)
	}
	return nil
}

// Unsent marks a queued request failed because its command never reached
// the queue, and gives its key back.
func (st *RequestStore) Unsent(ctx context.Context, id, reason string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: requestKey(id),
		UpdateExpression:          aws.String("SET #status = :failed, #error = :reason, unsent = :yes"),
		ConditionExpression:       aws.String("#status = :queued"),
		ExpressionAttributeNames:  map[string]string{"#status": "status", "#error": "error"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":failed": s(holder.RequestFailed), ":reason": s(reason), ":queued": s(holder.RequestQueued), ":yes": &types.AttributeValueMemberBOOL{Value: true}},
	})
	var cf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &cf) {
		return translate("mark request unsent", err)
	}
	return nil
}

// Get reads a request; holder.ErrNoRequest when there is none.
func (st *RequestStore) Get(ctx context.Context, id string) (holder.Request, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: requestKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return holder.Request{}, translate("get request", err)
	}
	if len(out.Item) == 0 {
		return holder.Request{}, holder.ErrNoRequest
	}
	return requestOf(id, out.Item), nil
}

func requestOf(id string, item map[string]types.AttributeValue) holder.Request {
	r := holder.Request{ID: id}
	r.Owner, _ = str(item, "owner")
	r.Kind, _ = str(item, "kind")
	r.Status, _ = str(item, "status")
	r.Code, _ = str(item, "code")
	r.Error, _ = str(item, "error")
	r.PayloadHash, _ = str(item, "payloadHash")
	r.Refusal, _ = str(item, "refusal")
	r.CreatedAt = tsOf(item, "createdAt")
	if p, ok := num(item, "position"); ok {
		r.Position = int(p)
	}
	if ms, ok := num(item, "keyUntil"); ok {
		r.KeyUntil = time.UnixMilli(ms)
	}
	if v, ok := item["unsent"].(*types.AttributeValueMemberBOOL); ok {
		r.Unsent = v.Value
	}
	return r
}

// Fail records why a request failed, unless it already succeeded: a late
// failure of a duplicate delivery must not overwrite the success.
func (st *RequestStore) Fail(ctx context.Context, id, reason string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: requestKey(id),
		UpdateExpression:          aws.String("SET #status = :failed, #error = :reason"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND #status <> :ok"),
		ExpressionAttributeNames:  map[string]string{"#status": "status", "#error": "error"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":failed": s(holder.RequestFailed), ":reason": s(reason), ":ok": s(holder.RequestSucceeded)},
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return nil
	}
	if err != nil {
		return translate("fail request", err)
	}
	return nil
}
