package dynamo

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Request states, as API.md names them.
const (
	RequestQueued     = "queued"
	RequestProcessing = "processing"
	RequestSucceeded  = "succeeded"
	RequestFailed     = "failed"
	// RequestRefused is a keyed command refused at once: its record keeps
	// the refusal for replays of the key and is no request to its owner.
	RequestRefused = "refused"
)

// requestRetention keeps a finished request readable for a week.
const requestRetention = 7 * 24 * time.Hour

// Request is a queued command as its owner sees it.
type Request struct {
	ID, Owner, Kind, Status, Code, Error string
	CreatedAt                            time.Time
	// Position is the request's place in line when it was queued (1 =
	// next), for the estimated wait; 0 when unknown.
	Position int
	// A command sent with an Idempotency-Key: the hash of what was asked
	// (route and body), until when the key is remembered, and for a
	// refused one the refusal (JSON) that replays of the key get.
	PayloadHash string
	KeyUntil    time.Time
	Refusal     string
	// Unsent marks a request that failed because it never reached the
	// queue; its key may be used again at once.
	Unsent bool
}

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
func (st *RequestStore) Queue(ctx context.Context, r Request) error {
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(st.table), Item: queuedItem(r), ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err != nil {
		return translate("queue request", err)
	}
	return nil
}

func queuedItem(r Request) map[string]types.AttributeValue {
	item := requestKey(r.ID)
	item["owner"] = s(r.Owner)
	item["kind"] = s(r.Kind)
	item["status"] = s(RequestQueued)
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
func (st *RequestStore) Claim(ctx context.Context, r Request, now time.Time) (Request, bool, error) {
	// Two tries: a request that gives its key back between our failed
	// claim and our read is claimed on the second.
	for range 2 {
		_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(st.table), Item: queuedItem(r),
			ConditionExpression:                 aws.String("attribute_not_exists(PK) OR keyUntil < :now OR (#status = :failed AND unsent = :yes)"),
			ExpressionAttributeNames:            map[string]string{"#status": "status"},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": n(now.UnixMilli()), ":failed": s(RequestFailed), ":yes": &types.AttributeValueMemberBOOL{Value: true}},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err == nil {
			return r, true, nil
		}
		var cf *types.ConditionalCheckFailedException
		if !errors.As(err, &cf) {
			return Request{}, false, translate("claim request", err)
		}
		if len(cf.Item) > 0 {
			return requestOf(r.ID, cf.Item), false, nil
		}
		// Not every emulator returns the item with the refusal.
		got, err := st.Get(ctx, r.ID)
		if errors.Is(err, ErrNoRequest) {
			continue
		}
		return got, false, err
	}
	return Request{}, false, errors.New("claim request: record changed twice while claiming")
}

// Refuse turns a claimed request into a stored refusal for replays of its
// key; refusal is the answer as JSON.
func (st *RequestStore) Refuse(ctx context.Context, id, payloadHash, refusal string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: requestKey(id),
		UpdateExpression:          aws.String("SET #status = :refused, refusal = :refusal"),
		ConditionExpression:       aws.String("#status = :queued AND payloadHash = :hash"),
		ExpressionAttributeNames:  map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":refused": s(RequestRefused), ":refusal": s(refusal), ":queued": s(RequestQueued), ":hash": s(payloadHash)},
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
		ExpressionAttributeValues: map[string]types.AttributeValue{":failed": s(RequestFailed), ":reason": s(reason), ":queued": s(RequestQueued), ":yes": &types.AttributeValueMemberBOOL{Value: true}},
	})
	var cf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &cf) {
		return translate("mark request unsent", err)
	}
	return nil
}

// Get reads a request; ErrNoRequest when there is none.
func (st *RequestStore) Get(ctx context.Context, id string) (Request, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: requestKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return Request{}, translate("get request", err)
	}
	if len(out.Item) == 0 {
		return Request{}, ErrNoRequest
	}
	return requestOf(id, out.Item), nil
}

func requestOf(id string, item map[string]types.AttributeValue) Request {
	r := Request{ID: id}
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

// ErrNoRequest is a request id that is not there.
var ErrNoRequest = errors.New("no such request")

// Fail records why a request failed, unless it already succeeded: a late
// failure of a duplicate delivery must not overwrite the success.
func (st *RequestStore) Fail(ctx context.Context, id, reason string) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: requestKey(id),
		UpdateExpression:          aws.String("SET #status = :failed, #error = :reason"),
		ConditionExpression:       aws.String("attribute_exists(PK) AND #status <> :ok"),
		ExpressionAttributeNames:  map[string]string{"#status": "status", "#error": "error"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":failed": s(RequestFailed), ":reason": s(reason), ":ok": s(RequestSucceeded)},
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
