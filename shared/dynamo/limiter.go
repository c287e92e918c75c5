package dynamo

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/identity"
)

// CounterAPI is the part of the DynamoDB client Limiter uses.
type CounterAPI interface {
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

var _ CounterAPI = (*dynamodb.Client)(nil)

// Limiter counts events in fixed windows with one atomic counter per key and
// window: item PK=RATE#<key>#<window start, epoch seconds>, SK=RATE,
// expiring an hour after its window. Windows are aligned to the epoch, so
// every Lambda instance counts into the same item.
type Limiter struct {
	db    CounterAPI
	table string
	now   func() time.Time
}

var _ identity.Limiter = (*Limiter)(nil)

// NewLimiter returns a limiter on table (nil now: time.Now).
func NewLimiter(db CounterAPI, table string, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{db: db, table: table, now: now}
}

// RateKey is the partition key of key's counter for the window starting at
// start.
func RateKey(key string, start time.Time) string {
	return "RATE#" + key + "#" + strconv.FormatInt(start.Unix(), 10)
}

// Allow counts one event for key and reports whether the window's count is
// within limit; when not, retryAfter is the time left in the window. Events
// over the limit are counted too, so hammering does not help.
func (l *Limiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if window < time.Second {
		return false, 0, errors.New("limiter: window must be at least a second")
	}
	now := l.now()
	secs := int64(window / time.Second)
	start := time.Unix(now.Unix()/secs*secs, 0)
	end := start.Add(window)
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       map[string]types.AttributeValue{AttrPK: s(RateKey(key, start)), AttrSK: s("RATE")},
		UpdateExpression:          aws.String("ADD #count :one SET #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#count": "count", "#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":ttl": n(end.Add(time.Hour).Unix())},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return false, 0, translate("count rate window", err)
	}
	count, ok := num(out.Attributes, "count")
	if !ok {
		return false, 0, errors.New("count rate window: no count returned")
	}
	if count > int64(limit) {
		return false, end.Sub(now), nil
	}
	return true, 0, nil
}

// Peek returns the count of key's current window without adding to it.
func (l *Limiter) Peek(ctx context.Context, key string, window time.Duration) (int, error) {
	if window < time.Second {
		return 0, errors.New("limiter: window must be at least a second")
	}
	secs := int64(window / time.Second)
	start := time.Unix(l.now().Unix()/secs*secs, 0)
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(l.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{AttrPK: s(RateKey(key, start)), AttrSK: s("RATE")},
	})
	if err != nil {
		return 0, translate("read rate window", err)
	}
	c, _ := num(out.Item, "count")
	return int(c), nil
}

// Lease takes n events from key's budget of limit per window, counted in
// one item per window (PK=RATE#<key>#<window start, epoch milliseconds>;
// windows may be shorter than a second). It takes them while the window's
// count is under limit, so a window ends at most n-1 over it; once the
// count has reached limit it takes nothing and reports false. It returns
// the window's count after the lease (what every instance has taken), so
// a caller can tell the budget is spent without asking again. One write
// serves n events: callers lease a few at a time.
func (l *Limiter) Lease(ctx context.Context, key string, events, limit int, window time.Duration) (bool, int, error) {
	if window < time.Millisecond || events < 1 {
		return false, 0, errors.New("limiter: lease needs a window of at least 1ms and n ≥ 1")
	}
	now := l.now()
	w := window.Milliseconds()
	start := time.UnixMilli(now.UnixMilli() / w * w)
	end := start.Add(window)
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(l.table),
		Key: map[string]types.AttributeValue{
			AttrPK: s("RATE#" + key + "#" + strconv.FormatInt(start.UnixMilli(), 10)), AttrSK: s("RATE"),
		},
		UpdateExpression:          aws.String("ADD #count :n SET #ttl = :ttl"),
		ConditionExpression:       aws.String("attribute_not_exists(#count) OR #count < :limit"),
		ExpressionAttributeNames:  map[string]string{"#count": "count", "#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": n(int64(events)), ":limit": n(int64(limit)), ":ttl": n(end.Add(time.Hour).Unix())},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return false, limit, nil
	}
	if err != nil {
		return false, 0, translate("lease rate window", err)
	}
	count, ok := num(out.Attributes, "count")
	if !ok {
		return false, 0, errors.New("lease rate window: no count returned")
	}
	return true, int(count), nil
}
