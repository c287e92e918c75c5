package dynamo

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/holder"
)

// TestRequestClaim: a keyed request's record is its key's claim: taken
// once; a second claim gets the first request; a refusal and an unsent
// request are kept as such; an unsent one and one past its key's time
// give the key back.
func TestRequestClaim(t *testing.T) {
	ctx := context.Background()
	st := NewRequestStore(localDynamo(t), table)
	t0 := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	r := holder.Request{ID: "rid1", Owner: "h1", Kind: "reissue", Status: holder.RequestQueued, CreatedAt: t0, Position: 3,
		PayloadHash: "A", KeyUntil: t0.Add(24 * time.Hour)}

	if _, ok, err := st.Claim(ctx, r, t0); !ok || err != nil {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	other := r
	other.PayloadHash = "B"
	got, ok, err := st.Claim(ctx, other, t0.Add(time.Second))
	if ok || err != nil || got.PayloadHash != "A" || got.Owner != "h1" || got.Status != holder.RequestQueued || got.Position != 3 ||
		!got.KeyUntil.Equal(r.KeyUntil) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("second claim: %+v %v %v", got, ok, err)
	}

	// Unsent: failed with a reason, and the key is free again.
	if err := st.Unsent(ctx, "rid1", "not queued"); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Get(ctx, "rid1"); got.Status != holder.RequestFailed || got.Error != "not queued" || !got.Unsent {
		t.Fatalf("unsent: %+v", got)
	}
	if _, ok, err := st.Claim(ctx, r, t0.Add(2*time.Second)); !ok || err != nil {
		t.Fatalf("claim after unsent: %v %v", ok, err)
	}

	// Refused: the refusal is kept, and only a queued request of the same
	// hash is turned into one.
	if err := st.Refuse(ctx, "rid1", "B", `{"code":"CONFLICT"}`); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Get(ctx, "rid1"); got.Status != holder.RequestQueued {
		t.Fatalf("a refusal for another hash was stored: %+v", got)
	}
	if err := st.Refuse(ctx, "rid1", "A", `{"code":"CONFLICT"}`); err != nil {
		t.Fatal(err)
	}
	got, ok, _ = st.Claim(ctx, r, t0.Add(time.Hour))
	if ok || got.Status != holder.RequestRefused || got.Refusal != `{"code":"CONFLICT"}` {
		t.Fatalf("claim of a refused key: %+v %v", got, ok)
	}
	// Unsent never touches a request that is not queued.
	if err := st.Unsent(ctx, "rid1", "x"); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Get(ctx, "rid1"); got.Status != holder.RequestRefused {
		t.Fatalf("unsent changed a refused request: %+v", got)
	}
	// Past KeyUntil the key starts a new request.
	if _, ok, err := st.Claim(ctx, other, t0.Add(25*time.Hour)); !ok || err != nil {
		t.Fatalf("claim after the key's time: %v %v", ok, err)
	}
}

// TestRequestClaimOnce: fifty concurrent claims of one request: one wins,
// every other gets the winner's request.
func TestRequestClaimOnce(t *testing.T) {
	ctx := context.Background()
	st := NewRequestStore(localDynamo(t), table)
	t0 := time.Now()
	var mu sync.Mutex
	won, lost := 0, 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := holder.Request{ID: "same", Owner: "h1", Kind: "reissue", CreatedAt: t0, PayloadHash: "A", KeyUntil: t0.Add(time.Hour)}
			got, ok, err := st.Claim(ctx, r, t0)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case ok:
				won++
			case got.PayloadHash == "A" && got.Owner == "h1":
				lost++
			default:
				t.Errorf("lost claim read %+v", got)
			}
		}()
	}
	wg.Wait()
	if won != 1 || lost != 49 {
		t.Fatalf("won %d lost %d", won, lost)
	}
}
