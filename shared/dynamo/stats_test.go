package dynamo

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/stats"
)

func TestStatsCountWithTheChangeTheyCount(t *testing.T) {
	db := localDynamo(t)
	st := NewStats(db, table)
	ctx := context.Background()
	change := func(i int, day string, kind stats.Kind) error {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{
				TableName:           aws.String(table),
				Item:                map[string]types.AttributeValue{AttrPK: s(fmt.Sprintf("TEST#%d", i)), AttrSK: s("X")},
				ConditionExpression: aws.String("attribute_not_exists(PK)"),
			}},
			st.Increment(day, kind),
		}})
		return err
	}
	want := map[string]map[stats.Kind]int64{"2026-12-01": {}, "2026-12-02": {}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			day := []string{"2026-12-01", "2026-12-02"}[i%2]
			kind := stats.Kinds()[i%len(stats.Kinds())]
			if err := change(i, day, kind); err != nil {
				t.Errorf("change %d: %v", i, err)
				return
			}
			mu.Lock()
			want[day][kind]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	// A change that fails its condition must not be counted.
	if err := change(0, "2026-12-01", stats.Issued); err == nil {
		t.Fatal("a repeated change went through")
	}
	got, err := st.Read(ctx, []string{"2026-11-30", "2026-12-01", "2026-12-02"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Day != "2026-11-30" || len(got[0].Counts) != 0 {
		t.Fatalf("got %+v", got)
	}
	for _, d := range got[1:] {
		for _, k := range stats.Kinds() {
			if d.Counts[k] != want[d.Day][k] {
				t.Errorf("%s %s = %d, want %d", d.Day, k, d.Counts[k], want[d.Day][k])
			}
		}
	}
}
