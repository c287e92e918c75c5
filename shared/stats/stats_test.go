package stats

import (
	"testing"
	"time"
)

func TestDayIsKoreanCalendarDay(t *testing.T) {
	// 15:30 UTC on 31 Dec is already 1 Jan in Korea.
	if d := Day(time.Date(2025, 12, 31, 15, 30, 0, 0, time.UTC)); d != "2026-01-01" {
		t.Fatalf("Day = %s", d)
	}
}

func TestDays(t *testing.T) {
	tests := []struct {
		first, last string
		want        int
		ok          bool
	}{
		{"2025-12-01", "2025-12-03", 3, true},
		{"2024-02-28", "2024-03-01", 3, true}, // leap day
		{"2025-12-03", "2025-12-01", 0, false},
		{"2025-12-01", "2026-12-01", 0, false}, // over the cap
		{"2025-13-01", "2025-12-01", 0, false},
	}
	for _, tt := range tests {
		got, err := Days(tt.first, tt.last, 31)
		if (err == nil) != tt.ok || len(got) != tt.want {
			t.Errorf("Days(%s, %s) = %v, %v", tt.first, tt.last, got, err)
		}
	}
	for _, k := range Kinds() {
		if !k.Valid() {
			t.Errorf("%s invalid", k)
		}
	}
	if Kind("bogus").Valid() {
		t.Error("bogus kind valid")
	}
}
