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
	"github.com/pccc/pccc/shared/limits"
)

// CounterAPI is the part of the DynamoDB client Limiter uses.
type CounterAPI interface {
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

var _ CounterAPI = (*dynamodb.Client)(nil)

// Limiter keeps the counters of the system's bounds (shared/limits): one
// atomic counter per key and slot, item PK=RATE#<key>#<slot>, SK=RATE,
// expiring once no window reads it. A sliding window's slots are named by
// their start (epoch seconds, aligned to the span, so every Lambda
// instance counts into the same items) and a Korean day's by its date
// (d20251201).
type Limiter struct {
	db    CounterAPI
	table string
	now   func() time.Time
}

var _ identity.Bounds = (*Limiter)(nil)

// NewLimiter returns a limiter on table (nil now: time.Now).
func NewLimiter(db CounterAPI, table string, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{db: db, table: table, now: now}
}

// RateKey is the partition key of key's counter for the sliding slot
// starting at start.
func RateKey(key string, start time.Time) string {
	return "RATE#" + key + "#" + strconv.FormatInt(start.Unix(), 10)
}

func slotKey(key string, slot limits.Slot) string { return "RATE#" + key + "#" + slot.ID }

func rateItem(pk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s(pk), AttrSK: s("RATE")}
}

// Allow counts one event for key and reports whether the last window (a
// sliding window of that span) holds at most limit; when not, retryAfter
// is the true wait until one more fits. Events over the limit are counted
// too, so hammering does not help.
func (l *Limiter) Allow(ctx context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if window < time.Second {
		return false, 0, errors.New("limiter: window must be at least a second")
	}
	return l.Hit(ctx, limits.Bound{Key: key, Limit: limit, Window: limits.Sliding(window)})
}

// Hit counts one event against b, refused or not, and reports whether it
// fits; when not, the true wait until one more would.
func (l *Limiter) Hit(ctx context.Context, b limits.Bound) (bool, time.Duration, error) {
	now := l.now()
	cur, prev := b.Window.Slots(now)
	prevCount := l.prevAsync(ctx, b.Window, b.Key, prev)
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       rateItem(slotKey(b.Key, cur)),
		UpdateExpression:          aws.String("ADD #count :one SET #ttl = :ttl"),
		ExpressionAttributeNames:  map[string]string{"#count": "count", "#ttl": AttrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1), ":ttl": n(b.Window.Expires(cur).Unix())},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	pc := <-prevCount
	if err != nil {
		return false, 0, translate("count rate window", err)
	}
	if pc.err != nil {
		return false, 0, pc.err
	}
	count, ok := num(out.Attributes, "count")
	if !ok {
		return false, 0, errors.New("count rate window: no count returned")
	}
	// This event fits if the count before it had room.
	if b.Window.Room(now, count-1, pc.n, b.Limit) {
		return true, 0, nil
	}
	return false, b.Window.Wait(now, count, pc.n, b.Limit), nil
}

// Take counts one event against b only if it fits, and returns it so that
// it can be given back; when it does not fit it counts nothing and says
// the true wait. Concurrent takes never count more than fit: the write's
// condition is the bound.
func (l *Limiter) Take(ctx context.Context, b limits.Bound) (limits.Taken, bool, time.Duration, error) {
	now := l.now()
	cur, prev := b.Window.Slots(now)
	pc := <-l.prevAsync(ctx, b.Window, b.Key, prev)
	if pc.err != nil {
		return limits.Taken{}, false, 0, pc.err
	}
	pk := slotKey(b.Key, cur)
	maxCur := b.Window.MaxCurrent(now, pc.n, b.Limit)
	if maxCur < 0 {
		c, err := l.read(ctx, pk)
		if err != nil {
			return limits.Taken{}, false, 0, err
		}
		return limits.Taken{}, false, b.Window.Wait(now, c, pc.n, b.Limit), nil
	}
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(l.table),
		Key:                                 rateItem(pk),
		UpdateExpression:                    aws.String("ADD #count :one SET #ttl = :ttl"),
		ConditionExpression:                 aws.String("attribute_not_exists(#count) OR #count <= :max"),
		ExpressionAttributeNames:            map[string]string{"#count": "count", "#ttl": AttrTTL},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":one": n(1), ":max": n(maxCur), ":ttl": n(b.Window.Expires(cur).Unix())},
		ReturnValues:                        types.ReturnValueUpdatedNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		c, _ := num(cf.Item, "count")
		return limits.Taken{}, false, b.Window.Wait(now, c, pc.n, b.Limit), nil
	}
	if err != nil {
		return limits.Taken{}, false, 0, translate("take from rate window", err)
	}
	count, ok := num(out.Attributes, "count")
	if !ok {
		return limits.Taken{}, false, 0, errors.New("take from rate window: no count returned")
	}
	return limits.Taken{Key: pk, Count: count}, true, 0, nil
}

// Give gives back an event Take counted. A counter that is gone or at zero
// is left alone.
func (l *Limiter) Give(ctx context.Context, t limits.Taken) error {
	if t.Key == "" {
		return nil
	}
	_, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(l.table),
		Key:                       rateItem(t.Key),
		UpdateExpression:          aws.String("ADD #count :minus"),
		ConditionExpression:       aws.String("#count > :zero"),
		ExpressionAttributeNames:  map[string]string{"#count": "count"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":minus": n(-1), ":zero": n(0)},
	})
	var cf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &cf) {
		return translate("give back to rate window", err)
	}
	return nil
}

// Peek reports, without counting, the true wait until one more event fits
// under b: 0 when it fits now.
func (l *Limiter) Peek(ctx context.Context, b limits.Bound) (time.Duration, error) {
	now := l.now()
	cur, prev := b.Window.Slots(now)
	pc := l.prevAsync(ctx, b.Window, b.Key, prev)
	c, err := l.read(ctx, slotKey(b.Key, cur))
	p := <-pc
	if err != nil {
		return 0, err
	}
	if p.err != nil {
		return 0, p.err
	}
	return b.Window.Wait(now, c, p.n, b.Limit), nil
}

type counted struct {
	n   int64
	err error
}

// prevAsync reads the previous slot's count of a sliding window alongside
// the caller's own request (a day has none: 0).
func (l *Limiter) prevAsync(ctx context.Context, w limits.Window, key string, prev limits.Slot) <-chan counted {
	ch := make(chan counted, 1)
	if w.IsDay() {
		ch <- counted{}
		return ch
	}
	go func() {
		c, err := l.read(ctx, slotKey(key, prev))
		ch <- counted{c, err}
	}()
	return ch
}

func (l *Limiter) read(ctx context.Context, pk string) (int64, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(l.table), ConsistentRead: aws.Bool(true), Key: rateItem(pk),
	})
	if err != nil {
		return 0, translate("read rate window", err)
	}
	c, _ := num(out.Item, "count")
	return c, nil
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

// Leased reads what Lease took of key in the last whole window before
// now (0 when nothing was): how fast all instances together took events
// a moment ago. A lease is taken ahead of its events, so this reads a
// little above the events themselves.
func (l *Limiter) Leased(ctx context.Context, key string, window time.Duration) (int, error) {
	if window < time.Millisecond {
		return 0, errors.New("limiter: leases need a window of at least 1ms")
	}
	w := window.Milliseconds()
	start := l.now().UnixMilli()/w*w - w
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(l.table),
		Key: map[string]types.AttributeValue{
			AttrPK: s("RATE#" + key + "#" + strconv.FormatInt(start, 10)), AttrSK: s("RATE"),
		},
	})
	if err != nil {
		return 0, translate("read rate window", err)
	}
	count, _ := num(out.Item, "count")
	return int(count), nil
}
