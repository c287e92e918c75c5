package sms

import (
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
