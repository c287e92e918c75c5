package limits

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestKoreanDayResetsAtMidnightInSeoul(t *testing.T) {
	// 23:59:30 in Seoul is 14:59:30 UTC.
	now := time.Date(2025, 12, 1, 14, 59, 30, 0, time.UTC)
	cur, _ := KoreanDay.Slots(now)
	if cur.ID != "d20251201" || !cur.End.Equal(time.Date(2025, 12, 1, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("slot %+v", cur)
	}
	if got := KoreanDay.Wait(now, 5, 0, 5); got != 30*time.Second {
		t.Fatalf("wait %v, want 30s to midnight in Seoul", got)
	}
	next, _ := KoreanDay.Slots(now.Add(30 * time.Second))
	if next.ID != "d20251202" {
		t.Fatalf("after midnight: %+v", next)
	}
	// 09:00 in Seoul (00:00 UTC) is the middle of a Korean day.
	nine := time.Date(2025, 12, 2, 0, 0, 0, 0, time.UTC)
	if a, b := KoreanDay.Slots(nine.Add(-time.Second)); a.ID != "d20251202" || b.ID != "d20251201" {
		t.Fatalf("before 09:00: %+v %+v", a, b)
	}
	if a, _ := KoreanDay.Slots(nine); a.ID != "d20251202" {
		t.Fatalf("at 09:00: %+v", a)
	}
	if Day(nine) != "20251202" {
		t.Fatal(Day(nine))
	}
	if KoreanDay.Wait(now, 4, 0, 5) != 0 {
		t.Fatal("room left but a wait")
	}
}

func TestSlidingCountsTheLastSpan(t *testing.T) {
	w := Sliding(time.Hour)
	start := time.Unix(1_764_550_800, 0) // a whole hour
	if c, p := w.Slots(start.Add(10 * time.Minute)); c.ID != "1764550800" || p.ID != "1764547200" {
		t.Fatalf("slots %+v %+v", c, p)
	}
	// 10 events late in the previous hour, 15 minutes into this one: three
	// quarters of them still count.
	now := start.Add(15 * time.Minute)
	if got := w.Count(now, 0, 10); got != 7.5 {
		t.Fatalf("count %v", got)
	}
	if w.Room(now, 2, 10, 10) {
		t.Fatal("9.5 + 1 fits under 10")
	}
	if !w.Room(now, 1, 10, 10) {
		t.Fatal("8.5 + 1 does not fit under 10")
	}
	// A fixed window would have let 10 more through at the hour.
	if w.Room(start, 0, 10, 10) {
		t.Fatal("the previous hour's 10 are forgotten at the hour")
	}
}

// The wait is true: after Wait one more event fits, a second earlier it
// does not, whatever the counts, limit and moment (slots move on while
// waiting: the current becomes the previous).
func TestWaitIsTheTrueWait(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 9))
	for _, w := range []Window{KoreanDay, Sliding(time.Minute), Sliding(time.Hour), Sliding(10 * time.Second)} {
		for range 20_000 {
			limit := 1 + rng.IntN(30)
			now := time.Unix(1_764_000_000+rng.Int64N(200_000), int64(rng.IntN(1000))*int64(time.Millisecond))
			cur, prev := w.Slots(now)
			counts := map[string]int64{cur.ID: rng.Int64N(40), prev.ID: rng.Int64N(40)}
			room := func(at time.Time) bool {
				c, p := w.Slots(at)
				return w.Room(at, counts[c.ID], counts[p.ID], limit)
			}
			wait := w.Wait(now, counts[cur.ID], counts[prev.ID], limit)
			if wait%time.Second != 0 || wait < 0 {
				t.Fatalf("%v: wait %v is not whole seconds", w, wait)
			}
			if (wait == 0) != room(now) {
				t.Fatalf("%v: wait %v but room now %v", w, wait, room(now))
			}
			if wait == 0 {
				continue
			}
			if !room(now.Add(wait)) {
				t.Fatalf("%v limit %d cur %d prev %d at %v: no room after the wait %v", w, limit, counts[cur.ID], counts[prev.ID], now, wait)
			}
			if wait > time.Second && room(now.Add(wait-time.Second)) {
				t.Fatalf("%v limit %d cur %d prev %d at %v: room a second before the wait %v", w, limit, counts[cur.ID], counts[prev.ID], now, wait)
			}
		}
	}
}
