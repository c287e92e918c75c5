package dynamo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/stats"
)

// StatShards spreads each day's counters over this many items, so a surge
// of 300,000 reissues a day (peaks of hundreds a second) never queues on one
// hot item: each write picks a shard at random; a read adds them up.
const StatShards = 16

// StatsAPI is the part of the DynamoDB client the stats reader uses.
type StatsAPI interface {
	BatchGetItem(context.Context, *dynamodb.BatchGetItemInput, ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// Stats counts changes by day, sharded: PK=STAT#<day>#<shard>, SK=STAT,
// one number attribute per kind.
type Stats struct {
	db    StatsAPI
	table string
}

// NewStats returns the stats adapter on table.
func NewStats(db StatsAPI, table string) *Stats { return &Stats{db: db, table: table} }

func statKey(day string, shard int) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s(fmt.Sprintf("STAT#%s#%02d", day, shard)), AttrSK: s("STAT")}
}

// Increment returns the transaction item that adds one to kind's counter of
// day. Put it in the same TransactWriteItems as the change it counts, so
// the count and the change commit together or not at all.
func (st *Stats) Increment(day string, kind stats.Kind) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(st.table),
		Key:                       statKey(day, rand.IntN(StatShards)),
		UpdateExpression:          aws.String("ADD #k :one"),
		ExpressionAttributeNames:  map[string]string{"#k": string(kind)},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": n(1)},
	}}
}

// Read returns the counts of each day, in order, adding up the shards.
func (st *Stats) Read(ctx context.Context, days []string) ([]stats.Daily, error) {
	totals := map[string]map[stats.Kind]int64{}
	var keys []map[string]types.AttributeValue
	for _, d := range days {
		totals[d] = map[stats.Kind]int64{}
		for i := 0; i < StatShards; i++ {
			keys = append(keys, statKey(d, i))
		}
	}
	// BatchGetItem takes 100 keys a call and may hand some back unprocessed.
	for len(keys) > 0 {
		n := min(len(keys), 100)
		pending := map[string]types.KeysAndAttributes{st.table: {Keys: keys[:n], ConsistentRead: aws.Bool(true)}}
		keys = keys[n:]
		for len(pending) > 0 && len(pending[st.table].Keys) > 0 {
			out, err := st.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
			if err != nil {
				return nil, translate("read stats", err)
			}
			for _, item := range out.Responses[st.table] {
				pk, _ := str(item, AttrPK)
				day := pk[len("STAT#") : len("STAT#")+len("2006-01-02")]
				for _, k := range stats.Kinds() {
					if v, ok := item[string(k)].(*types.AttributeValueMemberN); ok {
						c, _ := strconv.ParseInt(v.Value, 10, 64)
						totals[day][k] += c
					}
				}
			}
			pending = out.UnprocessedKeys
		}
	}
	out := make([]stats.Daily, 0, len(days))
	for _, d := range days {
		out = append(out, stats.Daily{Day: d, Counts: totals[d]})
	}
	return out, nil
}
