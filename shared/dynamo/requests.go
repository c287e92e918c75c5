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
	item := requestKey(r.ID)
	item["owner"] = s(r.Owner)
	item["kind"] = s(r.Kind)
	item["status"] = s(RequestQueued)
	item["createdAt"] = ts(r.CreatedAt)
	if r.Position > 0 {
		item["position"] = n(int64(r.Position))
	}
	item[AttrTTL] = n(r.CreatedAt.Add(requestRetention).Unix())
	_, err := st.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	})
	if err != nil {
		return translate("queue request", err)
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
	r := Request{ID: id}
	r.Owner, _ = str(out.Item, "owner")
	r.Kind, _ = str(out.Item, "kind")
	r.Status, _ = str(out.Item, "status")
	r.Code, _ = str(out.Item, "code")
	r.Error, _ = str(out.Item, "error")
	if v, ok := str(out.Item, "createdAt"); ok {
		r.CreatedAt, _ = time.Parse(time.RFC3339Nano, v)
	}
	if p, ok := num(out.Item, "position"); ok {
		r.Position = int(p)
	}
	return r, nil
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
