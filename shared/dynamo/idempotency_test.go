package dynamo

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/idempotency"
)

func TestIdempotencyStoreClaimCompleteRelease(t *testing.T) {
	ctx := context.Background()
	st := NewIdempotencyStore(localDynamo(t), table)
	t0 := time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)
	rec := idempotency.Record{Scope: "h1", Key: "k", Status: idempotency.InProgress, PayloadHash: "A",
		InProgressUntil: t0.Add(30 * time.Second), ExpiresAt: t0.Add(24 * time.Hour)}

	if _, ok, err := st.Claim(ctx, rec, t0); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	got, ok, err := st.Claim(ctx, rec, t0.Add(time.Second))
	if ok || err != nil || got.Status != idempotency.InProgress || got.PayloadHash != "A" {
		t.Fatalf("second claim while in progress: %+v %v %v", got, ok, err)
	}
	// Another scope with the same key is another record.
	other := rec
	other.Scope = "h2"
	if _, ok, _ := st.Claim(ctx, other, t0); !ok {
		t.Fatal("another holder's key was taken")
	}
	// A crashed call: past InProgressUntil the key can be claimed again.
	if _, ok, _ := st.Claim(ctx, rec, t0.Add(31*time.Second)); !ok {
		t.Fatal("a stale in-progress claim blocked the key")
	}
	rec.Status, rec.Outcome = idempotency.Completed, []byte(`{"status":202}`)
	if err := st.Complete(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// Completed: not claimable before expiry, even after InProgressUntil.
	got, ok, _ = st.Claim(ctx, rec, t0.Add(time.Hour))
	if ok || got.Status != idempotency.Completed || string(got.Outcome) != `{"status":202}` {
		t.Fatalf("claim of a completed key: %+v %v", got, ok)
	}
	if _, ok, _ := st.Claim(ctx, rec, t0.Add(25*time.Hour)); !ok {
		t.Fatal("an expired record blocked the key")
	}
	// Release frees an in-progress claim at once; a completed one stays.
	if err := st.Release(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := st.Claim(ctx, rec, t0.Add(25*time.Hour)); !ok {
		t.Fatal("a released key stayed claimed")
	}
}

// TestIdempotencyGuardRunsOnce: fifty concurrent calls with one key and one
// body run the call once; the rest are refused as busy or get the replay.
func TestIdempotencyGuardRunsOnce(t *testing.T) {
	ctx := context.Background()
	g := &idempotency.Guard{Store: NewIdempotencyStore(localDynamo(t), table)}
	var runs atomic.Int32
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = g.Do(ctx, "h", "same", "hash", func(context.Context) (*httpapi.Response, error) {
				runs.Add(1)
				<-release
				return httpapi.JSON(202, map[string]string{"requestId": "r1"}), nil
			})
		}()
	}
	time.Sleep(200 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := runs.Load(); n != 1 {
		t.Fatalf("ran %d times", n)
	}
	resp, err := g.Do(ctx, "h", "same", "hash", func(context.Context) (*httpapi.Response, error) {
		t.Fatal("ran again")
		return nil, nil
	})
	if err != nil || resp.Headers[idempotency.ReplayedHeader] != "true" || resp.Status != 202 {
		t.Fatalf("replay: %+v %v", resp, err)
	}
}
