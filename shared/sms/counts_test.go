package sms

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/stats"
)

func TestAddsOfFacts(t *testing.T) {
	at := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		f    Fact
		want map[stats.Kind]int64
	}{
		{Fact{Kind: PriorityCode, Outcome: OutcomeSent, Parts: 1}, map[stats.Kind]int64{stats.SMSCodesSent: 1, stats.SMSParts: 1}},
		{Fact{Kind: PriorityNotice, Outcome: OutcomeSent, Parts: 2}, map[stats.Kind]int64{stats.SMSNoticesSent: 1, stats.SMSParts: 2}},
		{Fact{Kind: PriorityCode, Outcome: OutcomeLate}, map[stats.Kind]int64{stats.SMSCodesDroppedLate: 1}},
		{Fact{Kind: PriorityCode, Outcome: OutcomeFailed}, map[stats.Kind]int64{}},
		{Fact{Kind: PriorityNotice, Outcome: OutcomeDuplicate}, map[stats.Kind]int64{}},
		{Fact{Kind: PriorityNotice, Outcome: OutcomeDeferred}, map[stats.Kind]int64{}},
		{Fact{Kind: PriorityNotice, Outcome: OutcomeDropped}, map[stats.Kind]int64{}},
	}
	for _, tt := range tests {
		got := map[stats.Kind]int64{}
		for _, a := range Adds(tt.f, at) {
			if !a.At.Equal(at) {
				t.Errorf("%+v counted at %v", tt.f, a.At)
			}
			got[a.Kind] += a.N
		}
		if len(got) != len(tt.want) {
			t.Errorf("%+v: %v, want %v", tt.f, got, tt.want)
		}
		for k, n := range tt.want {
			if got[k] != n {
				t.Errorf("%+v: %s = %d, want %d", tt.f, k, got[k], n)
			}
		}
	}
}

type fakeCounter struct {
	adds [][]stats.Add
	err  error
}

func (f *fakeCounter) Add(_ context.Context, adds ...stats.Add) error {
	f.adds = append(f.adds, adds)
	return f.err
}

// The counts go to the counter in one call a fact (Record) or a batch
// (RecordAll), nothing for a fact that sent nothing, and a count the
// counter lost is logged, not returned: the SMS went out.
func TestCountsGoToTheCounter(t *testing.T) {
	at := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	var logs bytes.Buffer
	f := &fakeCounter{}
	c := &Counts{Counter: f, Now: func() time.Time { return at }, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	ctx := context.Background()
	c.Record(ctx, Fact{Kind: PriorityNotice, Outcome: OutcomeDuplicate})
	if len(f.adds) != 0 {
		t.Fatalf("a duplicate counted: %v", f.adds)
	}
	c.Record(ctx, Fact{Kind: PriorityCode, Outcome: OutcomeSent, Parts: 1})
	c.RecordAll(ctx, []Fact{{Kind: PriorityCode, Outcome: OutcomeSent, Parts: 1}, {Kind: PriorityNotice, Outcome: OutcomeSent, Parts: 2}})
	if len(f.adds) != 2 || len(f.adds[0]) != 2 || len(f.adds[1]) != 4 {
		t.Fatalf("counter calls %v: want one a fact and one a batch", f.adds)
	}
	if logs.Len() != 0 {
		t.Fatalf("logged %s", logs.String())
	}
	f.err = errors.New("throttled")
	c.Record(ctx, Fact{Kind: PriorityCode, Outcome: OutcomeSent, Parts: 1})
	c.RecordAll(ctx, []Fact{{Kind: PriorityCode, Outcome: OutcomeLate}})
	if !strings.Contains(logs.String(), `"msg":"sms count lost"`) || !strings.Contains(logs.String(), `"msg":"sms counts lost"`) {
		t.Fatalf("lost counts not logged: %s", logs.String())
	}
}
