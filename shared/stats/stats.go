// Package stats names the daily counts lawmakers asked for (issues,
// reissues, suspensions, resumptions, cancellations, renewals, expiries)
// and the shape they are read in. The counting itself is an adapter
// (dynamo.Stats) that adds to the counters in the same transaction as the
// change it counts.
package stats

import (
	"fmt"
	"time"
)

// Kind is one counted change.
type Kind string

const (
	Issued    Kind = "issued"
	Reissued  Kind = "reissued"
	Suspended Kind = "suspended"
	Resumed   Kind = "resumed"
	Cancelled Kind = "cancelled"
	Renewed   Kind = "renewed"
	Expired   Kind = "expired"
	// Updated counts changes of registered details: not asked for, but it
	// makes "counters = succeeded commands" hold for every command.
	Updated Kind = "updated"
)

// Kinds lists every kind, in report order.
func Kinds() []Kind {
	return []Kind{Issued, Reissued, Suspended, Resumed, Cancelled, Renewed, Expired, Updated}
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, x := range Kinds() {
		if x == k {
			return true
		}
	}
	return false
}

// Korea is the time zone days are counted in: a "day" in a report is a
// Korean calendar day.
var Korea = time.FixedZone("KST", 9*60*60)

// Day returns the Korean calendar day of t as YYYY-MM-DD.
func Day(t time.Time) string { return t.In(Korea).Format("2006-01-02") }

// Daily is one day's counts.
type Daily struct {
	Day    string
	Counts map[Kind]int64
}

// Days lists the days from first to last inclusive (YYYY-MM-DD), at most
// maxDays of them.
func Days(first, last string, maxDays int) ([]string, error) {
	a, err1 := time.ParseInLocation("2006-01-02", first, Korea)
	b, err2 := time.ParseInLocation("2006-01-02", last, Korea)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("days must be YYYY-MM-DD")
	}
	if b.Before(a) {
		return nil, fmt.Errorf("the last day is before the first")
	}
	var out []string
	for d := a; !d.After(b); d = d.AddDate(0, 0, 1) {
		if len(out) == maxDays {
			return nil, fmt.Errorf("at most %d days at a time", maxDays)
		}
		out = append(out, d.Format("2006-01-02"))
	}
	return out, nil
}
