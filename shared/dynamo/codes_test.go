package dynamo

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/stats"
)

var t0 = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

func issueChange(req, hk, code string) Change {
	return Change{
		RequestID: req, Actor: "holder", Kind: stats.Issued, At: t0,
		New: Holder{Key: hk, Code: code, Status: "active", IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0),
			ReissueYear: 2026, Sealed: map[string]string{"englishName": "v1.k.sealed"}},
		NewCode: code,
	}
}

func TestFiftyParallelIssuesYieldOneCode(t *testing.T) {
	db := localDynamo(t)
	st := NewCodeStore(db, table, NewStats(db, table))
	ctx := context.Background()
	var ok, already atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			err := st.Apply(ctx, issueChange(fmt.Sprintf("r%d", i), "h1", fmt.Sprintf("P%012d", i)))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, holder.ErrAlreadyIssued):
				already.Add(1)
			default:
				t.Errorf("issue %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if ok.Load() != 1 || already.Load() != 49 {
		t.Fatalf("%d issued, %d refused", ok.Load(), already.Load())
	}
	h, err := st.Holder(ctx, "h1")
	if err != nil || h.Status != "active" || h.Version != 1 || h.Sealed["englishName"] != "v1.k.sealed" {
		t.Fatalf("holder %+v %v", h, err)
	}
	owner, status, err := st.CodeOwner(ctx, h.Code)
	if err != nil || owner != "h1" || status != CodeLive {
		t.Fatalf("code owner %q %q %v", owner, status, err)
	}
	counts, err := NewStats(db, table).Read(ctx, []string{stats.Day(t0)}, false)
	if err != nil || counts[0].Counts[stats.Issued] != 1 {
		t.Fatalf("issued counted %v %v", counts, err)
	}
}

func TestParallelReissuesLeaveOneLiveCode(t *testing.T) {
	db := localDynamo(t)
	st := NewCodeStore(db, table, NewStats(db, table))
	ctx := context.Background()
	if err := st.Apply(ctx, issueChange("r0", "h2", "P100000000000")); err != nil {
		t.Fatal(err)
	}
	old, err := st.Holder(ctx, "h2")
	if err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 1; i <= 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			next := old
			next.Code = fmt.Sprintf("P2000000000%02d", i)
			next.ReissuesInYear++
			err := st.Apply(ctx, Change{RequestID: fmt.Sprintf("re%d", i), Actor: "holder", Kind: stats.Reissued,
				At: t0, Old: old, New: next, NewCode: next.Code, RetireCode: old.Code})
			if err == nil {
				ok.Add(1)
			} else if !errors.Is(err, holder.ErrStaleHolder) {
				t.Errorf("reissue %d: %v", i, err)
			}
		}(i)
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("%d reissues went through", ok.Load())
	}
	h, _ := st.Holder(ctx, "h2")
	if _, status, _ := st.CodeOwner(ctx, old.Code); status != CodeRetired {
		t.Fatalf("old code is %q", status)
	}
	if owner, status, _ := st.CodeOwner(ctx, h.Code); owner != "h2" || status != CodeLive {
		t.Fatalf("new code %q %q", owner, status)
	}
	live := 0
	for i := 1; i <= 20; i++ {
		if _, status, err := st.CodeOwner(ctx, fmt.Sprintf("P2000000000%02d", i)); err == nil && status == CodeLive {
			live++
		}
	}
	if live != 1 {
		t.Fatalf("%d live new codes", live)
	}
}

func TestARequestAppliesOnceAndCodesAreNeverReused(t *testing.T) {
	db := localDynamo(t)
	st := NewCodeStore(db, table, NewStats(db, table))
	ctx := context.Background()
	if err := st.Apply(ctx, issueChange("same", "h3", "P300000000000")); err != nil {
		t.Fatal(err)
	}
	// The same request again, as a duplicate SQS delivery would bring it,
	// after the holder's code was cancelled so the holder condition passes.
	h, _ := st.Holder(ctx, "h3")
	cancelled := h
	cancelled.Status = "cancelled"
	if err := st.Apply(ctx, Change{RequestID: "cancel", Actor: "holder", Kind: stats.Cancelled, At: t0,
		Old: h, New: cancelled, RetireCode: h.Code}); err != nil {
		t.Fatal(err)
	}
	if err := st.Apply(ctx, issueChange("same", "h3", "P300000000001")); !errors.Is(err, holder.ErrApplied) {
		t.Fatalf("a repeated request: %v", err)
	}
	// A cancelled code number is never handed out again.
	if err := st.Apply(ctx, issueChange("fresh", "h4", "P300000000000")); !errors.Is(err, holder.ErrCodeTaken) {
		t.Fatalf("a reused code number: %v", err)
	}
	counts, _ := NewStats(db, table).Read(ctx, []string{stats.Day(t0)}, false)
	if counts[0].Counts[stats.Issued] != 1 || counts[0].Counts[stats.Cancelled] != 1 {
		t.Fatalf("counts %v", counts[0].Counts)
	}
}

func TestRequestLifecycle(t *testing.T) {
	db := localDynamo(t)
	ctx := context.Background()
	rs := NewRequestStore(db, table)
	st := NewCodeStore(db, table, NewStats(db, table))
	if err := rs.Queue(ctx, holder.Request{ID: "q1", Owner: "h5", Kind: "issue", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := rs.Queue(ctx, holder.Request{ID: "q1", Owner: "h5", Kind: "issue", CreatedAt: t0}); err == nil {
		t.Fatal("a request id was used twice")
	}
	if r, err := rs.Get(ctx, "q1"); err != nil || r.Status != holder.RequestQueued || r.Owner != "h5" {
		t.Fatalf("%+v %v", r, err)
	}
	if err := st.Apply(ctx, issueChange("q1", "h5", "P500000000000")); err != nil {
		t.Fatal(err)
	}
	// A failure reported late, by a duplicate delivery, leaves the success.
	if err := rs.Fail(ctx, "q1", "late"); err != nil {
		t.Fatal(err)
	}
	if r, _ := rs.Get(ctx, "q1"); r.Status != holder.RequestSucceeded || r.Code != "P500000000000" || r.Error != "" {
		t.Fatalf("%+v", r)
	}
	if err := rs.Queue(ctx, holder.Request{ID: "q2", Owner: "h5", Kind: "issue", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := rs.Fail(ctx, "q2", "already_issued"); err != nil {
		t.Fatal(err)
	}
	if r, _ := rs.Get(ctx, "q2"); r.Status != holder.RequestFailed || r.Error != "already_issued" {
		t.Fatalf("%+v", r)
	}
	if _, err := rs.Get(ctx, "nope"); !errors.Is(err, holder.ErrNoRequest) {
		t.Fatalf("missing request: %v", err)
	}
}

func TestDueOnReadsOneDay(t *testing.T) {
	db := localDynamo(t)
	ctx := context.Background()
	st := NewCodeStore(db, table, NewStats(db, table))
	for i, hk := range []string{"a", "b", "c"} {
		c := issueChange("x"+hk, hk, fmt.Sprintf("P60000000000%d", i))
		c.New.ExpiresAt = t0.AddDate(1, 0, i/2) // a and b on one day, c the next
		c.New.Due = c.New.ExpiresAt
		if err := st.Apply(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.DueOn(ctx, stats.Day(t0.AddDate(1, 0, 0)))
	if err != nil || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
	got, _ = st.DueOn(ctx, stats.Day(t0.AddDate(1, 0, 1)))
	if len(got) != 1 || got[0].HolderKey != "c" {
		t.Fatalf("%v", got)
	}
}
