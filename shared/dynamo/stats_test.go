package dynamo

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/stats"
)

func TestStatsCountWithTheChangeTheyCount(t *testing.T) {
	db := localDynamo(t)
	st := NewStats(db, table)
	ctx := context.Background()
	change := func(i int, at time.Time, kinds ...stats.Kind) error {
		items := []types.TransactWriteItem{{Put: &types.Put{
			TableName:           aws.String(table),
			Item:                map[string]types.AttributeValue{AttrPK: s(fmt.Sprintf("TEST#%d", i)), AttrSK: s("X")},
			ConditionExpression: aws.String("attribute_not_exists(PK)"),
		}}}
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: append(items, st.Items(Plus(at, kinds...)...)...)})
		return err
	}
	// 23:30 and 00:30 KST: two days, and two hours of them.
	late := time.Date(2026, 12, 1, 14, 30, 0, 0, time.UTC)
	early := late.Add(time.Hour)
	want := map[string]stats.Figures{"2026-12-01": {}, "2026-12-02": {}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 300; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			at := []time.Time{late, early}[i%2]
			kind := stats.Kinds()[i%len(stats.Kinds())]
			if err := change(i, at, kind, stats.Updated); err != nil {
				t.Errorf("change %d: %v", i, err)
				return
			}
			mu.Lock()
			want[stats.Day(at)][kind]++
			want[stats.Day(at)][stats.Updated]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	// A change that fails its condition must not be counted.
	if err := change(0, late, stats.Issued); err == nil {
		t.Fatal("a repeated change went through")
	}
	got, err := st.Read(ctx, []string{"2026-11-30", "2026-12-01", "2026-12-02"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Day != "2026-11-30" || len(got[0].Counts) != 0 {
		t.Fatalf("got %+v", got)
	}
	hourOf := map[string]int{"2026-12-01": 23, "2026-12-02": 0}
	for _, d := range got[1:] {
		for _, k := range stats.Kinds() {
			if d.Counts[k] != want[d.Day][k] {
				t.Errorf("%s %s = %d, want %d", d.Day, k, d.Counts[k], want[d.Day][k])
			}
			for h := range 24 {
				w := int64(0)
				if h == hourOf[d.Day] {
					w = want[d.Day][k]
				}
				if d.Hours[h][k] != w {
					t.Errorf("%s %02d:00 %s = %d, want %d", d.Day, h, k, d.Hours[h][k], w)
				}
			}
		}
	}
	// Without hours, the same days.
	daily, err := st.Read(ctx, []string{"2026-12-02"}, false)
	if err != nil || daily[0].Counts[stats.Updated] != want["2026-12-02"][stats.Updated] || len(daily[0].Hours[0]) != 0 {
		t.Fatalf("daily read %+v, %v", daily, err)
	}
}

// Additions on one day go to one item (a transaction may touch an item
// once); a negative one takes a provisional count back.
func TestStatsItemsOnePerDay(t *testing.T) {
	db := localDynamo(t)
	st := NewStats(db, table)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC) // 10:00 KST
	adds := []stats.Add{
		{At: at, Kind: stats.DeclarationsFiled, N: 1},
		{At: at.Add(2 * time.Hour), Kind: stats.DeclarationsExpired, N: 1},
		{At: at.Add(24 * time.Hour), Kind: stats.DeclarationsExpired, N: 1},
	}
	items := st.Items(adds...)
	if len(items) != 2 {
		t.Fatalf("%d items for two days", len(items))
	}
	if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		t.Fatal(err)
	}
	for _, in := range st.UpdateInputs(stats.Add{At: at.Add(2 * time.Hour), Kind: stats.DeclarationsExpired, N: -1}) {
		if _, err := db.UpdateItem(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Read(ctx, []string{"2026-12-01", "2026-12-02"}, true)
	if err != nil {
		t.Fatal(err)
	}
	d := got[0]
	if d.Counts[stats.DeclarationsFiled] != 1 || d.Hours[10][stats.DeclarationsFiled] != 1 ||
		d.Counts[stats.DeclarationsExpired] != 0 || d.Hours[12][stats.DeclarationsExpired] != 0 {
		t.Errorf("day 1: %+v", d)
	}
	if got[1].Counts[stats.DeclarationsExpired] != 1 || got[1].Hours[10][stats.DeclarationsExpired] != 1 {
		t.Errorf("day 2: %+v", got[1])
	}
}

func TestStatsCounterAddsOnItsOwn(t *testing.T) {
	db := localDynamo(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC) // 10:00 KST
	c := NewStatsCounter(db, table)
	if err := c.Add(ctx, stats.Add{At: at, Kind: stats.SMSCodesSent, N: 1}, stats.Add{At: at, Kind: stats.SMSParts, N: 2},
		stats.Add{At: at.Add(24 * time.Hour), Kind: stats.SMSNoticesSent, N: 1}); err != nil {
		t.Fatal(err)
	}
	got, err := NewStats(db, table).Read(ctx, []string{"2026-12-01", "2026-12-02"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if d := got[0]; d.Counts[stats.SMSCodesSent] != 1 || d.Counts[stats.SMSParts] != 2 || d.Hours[10][stats.SMSParts] != 2 {
		t.Errorf("day 1: %+v", d)
	}
	if got[1].Counts[stats.SMSNoticesSent] != 1 {
		t.Errorf("day 2: %+v", got[1])
	}
}
