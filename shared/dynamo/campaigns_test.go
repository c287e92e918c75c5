package dynamo

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/stats"
)

// A campaign's item is recorded once, in the transaction of its change or
// alone; the counters add up to the records; the state moves only from
// the states named; the reader's place moves only from where it was.
func TestCampaignStore(t *testing.T) {
	db := localDynamo(t)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	st := NewCampaignStore(db, table)
	if err := st.Create(ctx, Campaign{ID: "c1", Owner: "k1", Action: "suspend", Reason: "other", RatePerSecond: 5, State: "created", ListKey: "campaigns/c1/list.csv", CreatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, Campaign{ID: "c1", State: "created", CreatedAt: at}); err == nil {
		t.Error("a campaign id used twice")
	}
	if err := st.Transition(ctx, "c1", []string{"active"}, "paused", nil); !errors.Is(err, ErrCampaignState) {
		t.Errorf("created to paused: %v", err)
	}
	if err := st.Transition(ctx, "c1", []string{"created"}, "active", Prepared{Listed: 3, Valid: 2, Preview: []string{"P1"}}.Attrs()); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCursor(ctx, "c1", 0, 3, 2); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveCursor(ctx, "c1", 0, 3, 2); !errors.Is(err, ErrCursorMoved) {
		t.Errorf("a second reader from the same place: %v", err)
	}
	c, err := st.Get(ctx, "c1")
	if err != nil || c.State != "active" || c.Valid != 2 || c.Cursor != 3 || c.Queued != 2 || len(c.Preview) != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := st.Get(ctx, "nope"); !errors.Is(err, ErrNoCampaign) {
		t.Errorf("unknown: %v", err)
	}
	skip := ItemRecord{Campaign: "c1", Code: "P2", Counter: CampaignSkipUnknown, Outcome: "skipped", Reason: "unknown_code", At: at, Counts: []stats.Kind{stats.CampaignItemsSkipped}}
	for i := range 3 {
		err := st.Record(ctx, skip)
		if (i == 0) != (err == nil) || i > 0 && !errors.Is(err, ErrItemRecorded) {
			t.Errorf("record %d: %v", i, err)
		}
	}
	// The change's own transaction records the other item.
	codes := NewCodeStore(db, table, NewStats(db, table))
	h := Holder{Key: "hk", Code: "P3", Status: "active", IssuedAt: at, ExpiresAt: at.AddDate(1, 0, 0)}
	done := ItemRecord{Campaign: "c1", Code: "P3", Counter: CampaignDone, Outcome: "done", At: at}
	if err := codes.ApplyWith(ctx, Change{RequestID: "r1", Actor: "authority", Kind: stats.Issued, At: at, New: h, NewCode: "P3"}, st.ChangeItems(done)); err != nil {
		t.Fatal(err)
	}
	h.Version = 1
	err = codes.ApplyWith(ctx, Change{RequestID: "r2", Actor: "authority", Kind: stats.Suspended, At: at, Old: h, New: h}, st.ChangeItems(done))
	if !errors.Is(err, ErrItemRecorded) {
		t.Errorf("the item's second change: %v", err)
	}
	// A reissue with another campaign's record: the old code retired.
	h2 := h
	h2.Code = "P4"
	if err := codes.ApplyWith(ctx, Change{RequestID: "r3", Actor: "authority", Kind: stats.Reissued, At: at, Old: h, New: h2, NewCode: "P4", RetireCode: "P3"},
		st.ChangeItems(ItemRecord{Campaign: "c2", Code: "P3", Counter: CampaignDone, Outcome: "done", At: at})); err != nil {
		t.Fatal(err)
	}
	w, err := st.Work(ctx, "c1")
	if err != nil || w.Done != 1 || w.SkippedUnknown != 1 || w.Failed != 0 {
		t.Errorf("work %+v %v", w, err)
	}
	got := map[string]string{}
	if err := st.Items(ctx, "c1", func(code, outcome, reason string) { got[code] = outcome + "/" + reason }); err != nil || len(got) != 2 || got["P2"] != "skipped/unknown_code" || got["P3"] != "done/" {
		t.Errorf("items %v %v", got, err)
	}
	if o, r, err := st.Outcome(ctx, "c1", "P2"); o != "skipped" || r != "unknown_code" || err != nil {
		t.Errorf("outcome %s %s %v", o, r, err)
	}
}
