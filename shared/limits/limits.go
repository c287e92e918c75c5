// Package limits owns how the system counts toward its bounds: the two
// kinds of window (a Korean calendar day, or a sliding span), the count a
// window holds and the true wait until a spent bound has room again. It
// has no AWS imports; shared/dynamo keeps the counters, one item per slot.
//
// A day is the calendar day in Seoul (Asia/Seoul, UTC+9 without daylight
// saving since 1988), so "a day" resets at midnight where the people are,
// not at 09:00. A sliding window of span S is estimated from two fixed
// slots of length S, the current one and the one before, the older weighted
// by the part of it still inside the last S:
//
//	count(now) = current + previous × (slot end − now) / S
//
// This never lets through more than about the limit in any S (a fixed
// window lets through twice the limit around its reset) and costs two
// small items per key. Wait solves the same formula for the time when one
// more event fits, so a client that waits Retry-After gets in, and one
// that comes back a second earlier does not (absent other events).
package limits

import (
	"fmt"
	"strconv"
	"time"
)

// Seoul is Korean Standard Time. A fixed zone: Korea has had no daylight
// saving since 1988, and the Lambda runtime carries no zone database.
var Seoul = time.FixedZone("KST", 9*60*60)

// Day is the Korean calendar day of t, as YYYYMMDD.
func Day(t time.Time) string { return t.In(Seoul).Format("20060102") }

// Window is how a bound counts: a Korean calendar day, or sliding.
type Window struct{ span time.Duration }

// KoreanDay counts from midnight to midnight in Seoul.
var KoreanDay = Window{}

// Sliding counts the last span (whole seconds, at least one).
func Sliding(span time.Duration) Window {
	return Window{span: max(span.Truncate(time.Second), time.Second)}
}

// IsDay reports a Korean-day window.
func (w Window) IsDay() bool { return w.span == 0 }

// Span is a sliding window's span (0 for a day).
func (w Window) Span() time.Duration { return w.span }

func (w Window) String() string {
	if w.IsDay() {
		return "Korean day"
	}
	return "sliding " + w.span.String()
}

// Slot is one fixed piece of a window's counting: ID names it in a
// counter's key.
type Slot struct {
	ID         string
	Start, End time.Time
}

// Slots returns the slot now falls in and the slot before it. For a day,
// the day in Seoul (the one before is never read); for a sliding window,
// slots of the span aligned to the Unix epoch, so every instance counts
// into the same items.
func (w Window) Slots(now time.Time) (cur, prev Slot) {
	if w.IsDay() {
		k := now.In(Seoul)
		start := time.Date(k.Year(), k.Month(), k.Day(), 0, 0, 0, 0, Seoul)
		end := start.AddDate(0, 0, 1)
		before := start.AddDate(0, 0, -1)
		return Slot{ID: "d" + start.Format("20060102"), Start: start, End: end},
			Slot{ID: "d" + before.Format("20060102"), Start: before, End: start}
	}
	secs := int64(w.span / time.Second)
	s := now.Unix() / secs * secs
	if now.Unix() < 0 && now.Unix()%secs != 0 {
		s -= secs
	}
	start := time.Unix(s, 0)
	return Slot{ID: strconv.FormatInt(s, 10), Start: start, End: start.Add(w.span)},
		Slot{ID: strconv.FormatInt(s-secs, 10), Start: start.Add(-w.span), End: start}
}

// Expires is when a slot's counter may be deleted: after the last moment
// it is read (a sliding slot is read as the previous one for a span more),
// with an hour to spare for clocks that disagree.
func (w Window) Expires(s Slot) time.Time { return s.End.Add(w.span + time.Hour) }

// remaining is the time left in the slot at now, in milliseconds, and the
// span in milliseconds.
func (w Window) remaining(now time.Time, cur Slot) (r, span int64) {
	span = cur.End.Sub(cur.Start).Milliseconds()
	r = min(max(cur.End.Sub(now).Milliseconds(), 0), span)
	return r, span
}

// Count is the window's count at now, from the counts of the current slot
// and (sliding windows) the one before.
func (w Window) Count(now time.Time, cur, prev int64) float64 {
	if w.IsDay() {
		return float64(cur)
	}
	c, _ := w.Slots(now)
	r, span := w.remaining(now, c)
	return float64(cur) + float64(prev)*float64(r)/float64(span)
}

// MaxCurrent is the highest count the current slot may hold for one more
// event to fit under limit at now, given the previous slot's count; below
// zero, none fits. Room is "current ≤ MaxCurrent": one comparison a
// conditional write can make.
func (w Window) MaxCurrent(now time.Time, prev int64, limit int) int64 {
	if w.IsDay() {
		return int64(limit) - 1
	}
	c, _ := w.Slots(now)
	r, span := w.remaining(now, c)
	// (cur+1)·span + prev·r ≤ limit·span
	return floorDiv(int64(limit)*span-prev*r, span) - 1
}

// Room reports whether one more event fits under limit at now.
func (w Window) Room(now time.Time, cur, prev int64, limit int) bool {
	return cur <= w.MaxCurrent(now, prev, limit)
}

// Wait is how long from now until one more event fits under limit, if no
// other event comes: 0 when it fits now, otherwise rounded up to whole
// seconds (what Retry-After can say).
func (w Window) Wait(now time.Time, cur, prev int64, limit int) time.Duration {
	if w.Room(now, cur, prev, limit) {
		return 0
	}
	c, _ := w.Slots(now)
	if w.IsDay() {
		return ceilSecond(c.End.Sub(now))
	}
	r, span := w.remaining(now, c)
	room := int64(limit) - 1 // the count at which one more fits
	var ms int64
	if cur > room {
		// Past the current slot's end it is the previous one, weighing
		// cur·(span−x)/span after x more: fits once x ≥ span·(cur−room)/cur.
		ms = r + ceilDiv(span*(cur-room), cur)
	} else {
		// Within the slot: prev·(r−t)/span ≤ room−cur.
		ms = r - floorDiv((room-cur)*span, prev)
	}
	return ceilSecond(time.Duration(max(ms, 1)) * time.Millisecond)
}

// Taken is one event Take counted, to give back when it turns out not to
// count (a check that did not fail after all).
type Taken struct {
	Key   string // the counter's item key
	Count int64  // the slot's count with this event
}

// Bound is a limit on events counted under Key in Window; Name is what a
// refusal says it hit.
type Bound struct {
	Name   string
	Key    string
	Limit  int
	Window Window
}

func (b Bound) String() string {
	return fmt.Sprintf("%s (%d a %s)", b.Name, b.Limit, b.Window)
}

func ceilSecond(d time.Duration) time.Duration {
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
