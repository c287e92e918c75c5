package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/stats"
)

// The code store's invariants on each real-protocol stack: the conditions
// and the cancellation reasons they produce are what DynamoDB itself says.
func TestCodeStoreInvariants(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, nil)
		ctx := context.Background()
		c, err := s.stack.Clients(ctx)
		if err != nil {
			t.Fatal(err)
		}
		const table = "pccc-local-Table"
		st := dynamo.NewCodeStore(c.DynamoDB, table, dynamo.NewStats(c.DynamoDB, table))
		at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
		issue := func(req, code string) dynamo.Change {
			return dynamo.Change{RequestID: req, Actor: "holder", Kind: stats.Issued, At: at,
				New: dynamo.Holder{Key: "hk", Code: code, Status: "active", IssuedAt: at, ExpiresAt: at.AddDate(1, 0, 0)}, NewCode: code}
		}
		var ok, refused atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				switch err := st.Apply(ctx, issue(fmt.Sprintf("r%d", i), fmt.Sprintf("P%012d", i))); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, holder.ErrAlreadyIssued):
					refused.Add(1)
				default:
					t.Errorf("issue %d: %v", i, err)
				}
			}(i)
		}
		wg.Wait()
		if ok.Load() != 1 || refused.Load() != 49 {
			t.Fatalf("50 parallel issues: %d issued, %d refused", ok.Load(), refused.Load())
		}
		h, err := st.Holder(ctx, "hk")
		if err != nil {
			t.Fatal(err)
		}
		next := h
		next.Code = "P999999999990"
		reissue := dynamo.Change{RequestID: "re", Actor: "holder", Kind: stats.Reissued, At: at,
			Old: h, New: next, NewCode: next.Code, RetireCode: h.Code}
		if err := st.Apply(ctx, reissue); err != nil {
			t.Fatal(err)
		}
		if err := st.Apply(ctx, reissue); !errors.Is(err, holder.ErrStaleHolder) {
			t.Fatalf("a second reissue from the same read: %v", err)
		}
		if _, status, _ := st.CodeOwner(ctx, h.Code); status != dynamo.CodeRetired {
			t.Fatalf("old code %q after reissue", status)
		}
		if err := st.Apply(ctx, issue("r0", "P888888888880")); !errors.Is(err, holder.ErrAlreadyIssued) {
			t.Fatalf("issue while a code is live: %v", err)
		}
		counts, err := dynamo.NewStats(c.DynamoDB, table).Read(ctx, []string{stats.Day(at)}, false)
		if err != nil || counts[0].Counts[stats.Issued] != 1 || counts[0].Counts[stats.Reissued] != 1 {
			t.Fatalf("counts %v %v", counts, err)
		}
	})
}
