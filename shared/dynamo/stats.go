package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/stats"
)

// StatShards spreads each day's counters over this many items, so a surge
// of 300,000 reissues a day (peaks of hundreds a second) never queues on one
// hot item: each write picks a shard at random; a read adds them up.
const StatShards = 16

// statBatch is BatchGetItem's limit of keys a call.
const statBatch = 100

// StatsAPI is the part of the DynamoDB client the stats reader uses.
type StatsAPI interface {
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Stats counts by Korean day and hour, sharded: PK=STAT#<day>#<shard>,
// SK=STAT, one number attribute per kind for the day (named as the kind)
// and one per kind and hour ("<kind>@<hh>"). One ADD adds to both, so a
// day's hours always add up to the day; reading a year is one BatchGetItem
// per 100 shard items (days x 16 / 100 calls), never a scan.
type Stats struct {
	db    StatsAPI
	table string
}

// NewStats returns the stats adapter on table. db is needed to read only:
// the writes are items for the caller's own transaction.
func NewStats(db StatsAPI, table string) *Stats { return &Stats{db: db, table: table} }

func statKey(day string, shard int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s(fmt.Sprintf("STAT#%s#%02d", day, shard)), AttrSK: s("STAT")}
}

// HourAttr is the attribute of kind's counter in hour h of the day.
func HourAttr(k stats.Kind, h int) string { return fmt.Sprintf("%s@%02d", k, h) }

// Plus is one of each kind at t.
func Plus(t time.Time, kinds ...stats.Kind) []stats.Add {
	out := make([]stats.Add, len(kinds))
	for i, k := range kinds {
		out[i] = stats.Add{At: t, Kind: k, N: 1}
	}
	return out
}

// Items returns the transaction items that make the additions: one update
// per Korean day touched (a transaction may not touch an item twice), on a
// shard picked at random. Put them in the same TransactWriteItems as the
// change they count, so the count and the change commit together or not
// at all.
func (st *Stats) Items(adds ...stats.Add) []types.TransactWriteItem {
	byDay := map[string]map[string]int64{}
	var days []string
	for _, a := range adds {
		d := stats.Day(a.At)
		if byDay[d] == nil {
			byDay[d] = map[string]int64{}
			days = append(days, d)
		}
		byDay[d][string(a.Kind)] += a.N
		byDay[d][HourAttr(a.Kind, stats.Hour(a.At))] += a.N
	}
	out := make([]types.TransactWriteItem, 0, len(days))
	for _, d := range days {
		out = append(out, types.TransactWriteItem{Update: st.update(d, byDay[d])})
	}
	return out
}

func (st *Stats) update(day string, attrs map[string]int64) *types.Update {
	names := make([]string, 0, len(attrs))
	for a := range attrs {
		names = append(names, a)
	}
	slices.Sort(names)
	var expr []string
	an := map[string]string{}
	av := map[string]types.AttributeValue{}
	for i, a := range names {
		an[fmt.Sprintf("#k%d", i)] = a
		av[fmt.Sprintf(":v%d", i)] = n(attrs[a])
		expr = append(expr, fmt.Sprintf("#k%d :v%d", i, i))
	}
	return &types.Update{
		TableName:                 aws.String(st.table),
		Key:                       statKey(day, rand.IntN(StatShards)),
		UpdateExpression:          aws.String("ADD " + strings.Join(expr, ", ")),
		ExpressionAttributeNames:  an,
		ExpressionAttributeValues: av,
	}
}

// TransactAPI is the part of the DynamoDB client a counted write uses.
type TransactAPI interface {
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// transact writes items and the counters build returns, in one
// transaction. Two transactions on one counter item at once cancel one
// another (TransactionConflict); since build picks the shards anew, a
// retry lands elsewhere, so it tries a few times before giving up.
func transact(ctx context.Context, db TransactAPI, items []types.TransactWriteItem, counters func() []types.TransactWriteItem) error {
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			time.Sleep(time.Duration(rand.Int64N(int64(5 * time.Millisecond * time.Duration(attempt)))))
		}
		all := append(slices.Clip(items), counters()...)
		_, err = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: all})
		if !conflicted(err) {
			return err
		}
	}
	return err
}

// conflicted says whether a transaction was cancelled only because
// another one held one of its items.
func conflicted(err error) bool {
	var tc *types.TransactionCanceledException
	if !errors.As(err, &tc) {
		return false
	}
	seen := false
	for _, r := range tc.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "", "None":
		case "TransactionConflict":
			seen = true
		default:
			return false
		}
	}
	return seen
}

// UpdateInputs are Items as single UpdateItem calls, for a count that
// goes with no other write (a real-name check the bureau did not match
// changes nothing else).
func (st *Stats) UpdateInputs(adds ...stats.Add) []*dynamodb.UpdateItemInput {
	var out []*dynamodb.UpdateItemInput
	for _, it := range st.Items(adds...) {
		u := it.Update
		out = append(out, &dynamodb.UpdateItemInput{
			TableName: u.TableName, Key: u.Key, UpdateExpression: u.UpdateExpression,
			ExpressionAttributeNames: u.ExpressionAttributeNames, ExpressionAttributeValues: u.ExpressionAttributeValues,
		})
	}
	return out
}

// StatsCounterAPI is the part of the DynamoDB client a StatsCounter uses.
type StatsCounterAPI interface {
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// StatsCounter adds to the counters on their own, for a count that goes
// with no write of ours (an SMS sent: the provider's call is the event):
// one UpdateItem a day (UpdateInputs).
type StatsCounter struct {
	db    StatsCounterAPI
	stats *Stats
}

// NewStatsCounter returns the counter of the statistics on table.
func NewStatsCounter(db StatsCounterAPI, table string) *StatsCounter {
	return &StatsCounter{db: db, stats: NewStats(nil, table)}
}

// Add makes the additions. A write that fails does not keep the others
// from being made; the failures come back joined, as the client said
// them.
func (c *StatsCounter) Add(ctx context.Context, adds ...stats.Add) error {
	var errs []error
	for _, in := range c.stats.UpdateInputs(adds...) {
		if _, err := c.db.UpdateItem(ctx, in); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Read returns the counts of each day, in order, adding up the shards,
// with the hours when hourly is set (otherwise the items are read with a
// projection of the day's attributes only: a year's range reads a 25th of
// the bytes).
func (st *Stats) Read(ctx context.Context, days []string, hourly bool) ([]stats.Daily, error) {
	totals := map[string]*stats.Daily{}
	var keys []map[string]types.AttributeValue
	for _, d := range days {
		if _, dup := totals[d]; dup {
			continue
		}
		dy := &stats.Daily{Day: d, Counts: stats.Figures{}}
		for h := range dy.Hours {
			dy.Hours[h] = stats.Figures{}
		}
		totals[d] = dy
		for i := 0; i < StatShards; i++ {
			keys = append(keys, statKey(d, i))
		}
	}
	attrs := map[string]stats.Kind{}
	for _, k := range stats.Kinds() {
		attrs[string(k)] = k
		if hourly {
			for h := 0; h < 24; h++ {
				attrs[HourAttr(k, h)] = k
			}
		}
	}
	ka := types.KeysAndAttributes{ConsistentRead: aws.Bool(true)}
	if !hourly {
		names := map[string]string{"#pk": AttrPK}
		proj := []string{"#pk"}
		for i, k := range stats.Kinds() {
			names[fmt.Sprintf("#a%d", i)] = string(k)
			proj = append(proj, fmt.Sprintf("#a%d", i))
		}
		ka.ProjectionExpression, ka.ExpressionAttributeNames = aws.String(strings.Join(proj, ", ")), names
	}
	for len(keys) > 0 {
		batch := min(len(keys), statBatch)
		req := ka
		req.Keys = keys[:batch]
		keys = keys[batch:]
		pending := map[string]types.KeysAndAttributes{st.table: req}
		// BatchGetItem may hand some keys back unprocessed: ask again.
		for len(pending[st.table].Keys) > 0 {
			out, err := st.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, translate("read stats", err)
			}
			for _, item := range out.Responses[st.table] {
				pk, _ := str(item, AttrPK)
				dy := totals[pk[len("STAT#"):len("STAT#")+len("2006-01-02")]]
				if dy == nil {
					continue
				}
				for name, v := range item {
					k, ok := attrs[name]
					nv, isN := v.(*types.AttributeValueMemberN)
					if !ok || !isN {
						continue
					}
					c, _ := strconv.ParseInt(nv.Value, 10, 64)
					if name == string(k) {
						dy.Counts[k] += c
					} else {
						h, _ := strconv.Atoi(name[len(name)-2:])
						dy.Hours[h][k] += c
					}
				}
			}
			pending = out.UnprocessedKeys
		}
	}
	out := make([]stats.Daily, 0, len(days))
	for _, d := range days {
		out = append(out, *totals[d])
	}
	return out, nil
}
