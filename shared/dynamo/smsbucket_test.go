package dynamo

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/testkit"
)

// Several sender instances, each with its own bucket value on the one
// table item, racing for tokens: together they never take more than the
// rate allows (the burst plus rate × time), and they take nearly all of
// it; and a priority that must leave a reserve gets nothing while a higher
// one spends the rate, and the whole rate once it is alone.
func TestSMSBucketHoldsTheRateOverAllInstances(t *testing.T) {
	db := localDynamo(t)
	clock := testkit.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	const rate, burst, instances = 20.0, 5.0, 4
	buckets := make([]*SMSBucket, instances)
	for i := range buckets {
		buckets[i] = NewSMSBucket(db, table, "test", rate, burst, clock.Now)
	}
	ctx := context.Background()
	// step lets every instance take what it can (want tokens at a time,
	// leaving reserve) at this moment, all at once; then time moves on.
	step := func(reserves []float64) []int64 {
		got := make([]atomic.Int64, len(reserves))
		var wg sync.WaitGroup
		for i, b := range buckets {
			for p, reserve := range reserves {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						n, wait, err := b.Take(ctx, 1+i%3, reserve)
						if err != nil {
							t.Error(err)
							return
						}
						if n == 0 {
							if wait <= 0 {
								t.Errorf("no tokens and no wait")
							}
							return
						}
						got[p].Add(int64(n))
					}
				}()
			}
		}
		wg.Wait()
		clock.Advance(25 * time.Millisecond)
		out := make([]int64, len(got))
		for i := range got {
			out[i] = got[i].Load()
		}
		return out
	}
	const steps = 200 // 5 s
	seconds := float64(steps) * 0.025
	// Codes (no reserve) and notices (a third of the bucket) together.
	var codes, notices int64
	for range steps {
		g := step([]float64{0, burst / 3})
		codes, notices = codes+g[0], notices+g[1]
	}
	if total := float64(codes + notices); total > burst+rate*seconds || total < rate*seconds-1 {
		t.Fatalf("took %v tokens in %.1f s at %v/s (burst %v)", total, seconds, rate, burst)
	}
	if notices > int64(burst) {
		t.Fatalf("notices took %d tokens while codes wanted the whole rate (codes %d)", notices, codes)
	}
	// Notices alone get the whole rate.
	notices = 0
	for range steps {
		notices += step([]float64{burst / 3})[0]
	}
	if float64(notices) < rate*seconds-burst || float64(notices) > burst+rate*seconds {
		t.Fatalf("notices alone took %d tokens in %.1f s at %v/s", notices, seconds, rate)
	}
}
