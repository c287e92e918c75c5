// Package holder owns the rules of a holder's code over its life: which
// commands exist, which status each may start from and lead to (the status
// graph), the policy numbers (reissues a year, validity, renewal window),
// and the holder's registered details and how they are validated.
//
// It decides; it does not store. Decide takes the current record and a
// command and returns the next record and what else must happen in the same
// transaction (a new code, a code retired, a statistic counted). The store
// holds the invariants with conditions; this package says what is allowed.
package holder

import (
	"fmt"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/stats"
)

// Status is a code's state as API.md names it.
type Status string

const (
	Active    Status = "active"
	Suspended Status = "suspended"
	Cancelled Status = "cancelled"
	Expired   Status = "expired"
)

// Live reports whether the status leaves the holder with a live code: one
// that blocks a new issue.
func (s Status) Live() bool { return s == Active || s == Suspended }

// Actor is who asked for a change.
type Actor string

const (
	ByHolder    Actor = "holder"
	ByAuthority Actor = "authority" // the customs authority (bulk actions, suspected misuse)
	BySystem    Actor = "system"    // the daily expiry job
)

// Kind is a command.
type Kind string

const (
	Issue   Kind = "issue"
	Reissue Kind = "reissue"
	Suspend Kind = "suspend"
	Resume  Kind = "resume"
	Cancel  Kind = "cancel"
	Renew   Kind = "renew"
	Update  Kind = "update"
	// Expire and Lapse are the daily job's: a code past its expiry becomes
	// expired; an expired code not renewed within the window is cancelled.
	Expire Kind = "expire"
	Lapse  Kind = "lapse"
)

// Kinds lists the commands, holder commands first.
func Kinds() []Kind {
	return []Kind{Issue, Reissue, Suspend, Resume, Cancel, Renew, Update, Expire, Lapse}
}

// Valid reports whether k is a known command.
func (k Kind) Valid() bool {
	for _, x := range Kinds() {
		if x == k {
			return true
		}
	}
	return false
}

// Counted is the statistic a successful command adds to.
func (k Kind) Counted() stats.Kind {
	switch k {
	case Issue:
		return stats.Issued
	case Reissue:
		return stats.Reissued
	case Suspend:
		return stats.Suspended
	case Resume:
		return stats.Resumed
	case Cancel, Lapse:
		return stats.Cancelled
	case Renew:
		return stats.Renewed
	case Expire:
		return stats.Expired
	default:
		return stats.Updated
	}
}

// Counts are the figures a successful command adds one to: its kind and,
// for reissues, suspensions and cancellations, the part saying why or by
// whom (stats.Parts).
func Counts(k Kind, by Actor, reason string) []stats.Kind {
	c := k.Counted()
	switch c {
	case stats.Reissued:
		part := stats.ReissuedOther
		switch reason {
		case "leak_concern":
			part = stats.ReissuedLeakConcern
		case "lost":
			part = stats.ReissuedLost
		case "misuse_suspected":
			part = stats.ReissuedMisuseSuspected
		}
		return []stats.Kind{c, part}
	case stats.Suspended:
		if by == ByAuthority {
			return []stats.Kind{c, stats.SuspendedByAuthority}
		}
		return []stats.Kind{c, stats.SuspendedByHolder}
	case stats.Cancelled:
		switch {
		case k == Lapse:
			return []stats.Kind{c, stats.CancelledLapsed}
		case by == ByAuthority:
			return []stats.Kind{c, stats.CancelledByAuthority}
		}
		return []stats.Kind{c, stats.CancelledByHolder}
	}
	return []stats.Kind{c}
}

// Policy is the configurable part of the rules (DOMAIN.md: the reissue
// limit is unconfirmed, so it is a setting).
type Policy struct {
	ReissuesPerYear int           // per Korean calendar year; default 5
	ValidityMonths  int           // from issue, reissue, renewal or change of details; default 12
	RenewalWindow   time.Duration // either side of expiry; default 30 days
}

// DefaultPolicy is the June 2025 rule set.
func DefaultPolicy() Policy {
	return Policy{ReissuesPerYear: 5, ValidityMonths: 12, RenewalWindow: 30 * 24 * time.Hour}
}

// Record is a holder's code as the rules see it.
type Record struct {
	Code           string
	Status         Status
	SuspendedBy    Actor // who suspended it, while suspended
	IssuedAt       time.Time
	ExpiresAt      time.Time
	ReissueYear    int // the Korean calendar year ReissuesInYear counts
	ReissuesInYear int
}

// ReissuesUsed is the number of reissues in now's calendar year.
func (r Record) ReissuesUsed(now time.Time) int {
	if r.ReissueYear != now.In(stats.Korea).Year() {
		return 0
	}
	return r.ReissuesInYear
}

// ReissuesLeft is what the policy still allows this calendar year.
func (r Record) ReissuesLeft(now time.Time, p Policy) int {
	return max(0, p.ReissuesPerYear-r.ReissuesUsed(now))
}

// Due is when the daily job must next look at the record: at expiry for a
// live code, at the end of the renewal window for an expired one; never
// for a cancelled one (ok false).
func (r Record) Due(p Policy) (time.Time, bool) {
	switch r.Status {
	case Active, Suspended:
		return r.ExpiresAt, true
	case Expired:
		return r.ExpiresAt.Add(p.RenewalWindow), true
	}
	return time.Time{}, false
}

// Effect is what a decision asks of the store besides the new record.
type Effect struct {
	NewCode    bool   // create a fresh code (issue, reissue)
	RetireCode string // retire this code in the same transaction
	Count      stats.Kind
}

// Refusals. Each is an *apperr.Error so the API can answer with it at once
// and the worker can record its message as the reason a request failed.
var (
	ErrLiveCode = apperr.New(apperr.Conflict, "You already have a live code. Reissue it instead.")
	ErrNoCode   = apperr.New(apperr.NotFound, "You have no code yet.")
	ErrQuota    = apperr.New(apperr.PolicyDenied, "You have used this year's reissues.")
	ErrByAuth   = apperr.New(apperr.PolicyDenied, "The customs authority suspended this code; only the authority can lift it.")
	ErrNotDue   = apperr.New(apperr.Conflict, "Nothing is due for this code yet.")
)

// ErrWindow refuses a renewal outside the window around expiry.
func ErrWindow(p Policy) *apperr.Error {
	days := int(p.RenewalWindow / (24 * time.Hour))
	return apperr.New(apperr.PolicyDenied, fmt.Sprintf("A code can be renewed only within %d days either side of its expiry.", days))
}

func wrongState(s Status) *apperr.Error {
	return apperr.New(apperr.Conflict, "Not possible while the code is "+string(s)+".")
}

// Decide applies command k by actor at now to the current record (nil: the
// holder has never had a code) and returns the next record and the effect.
// The new record's Code is left empty when Effect.NewCode asks the store
// for a fresh one.
func Decide(cur *Record, k Kind, by Actor, now time.Time, p Policy) (Record, Effect, error) {
	now = now.UTC()
	if cur == nil {
		if k != Issue {
			return Record{}, Effect{}, ErrNoCode
		}
		return Record{Status: Active, IssuedAt: now, ExpiresAt: expiry(now, p)}, Effect{NewCode: true, Count: stats.Issued}, nil
	}
	next := *cur
	eff := Effect{Count: k.Counted()}
	switch k {
	case Issue:
		if cur.Status != Cancelled {
			if cur.Status == Expired {
				return Record{}, Effect{}, wrongState(cur.Status)
			}
			return Record{}, Effect{}, ErrLiveCode
		}
		next = Record{Status: Active, IssuedAt: now, ExpiresAt: expiry(now, p),
			ReissueYear: cur.ReissueYear, ReissuesInYear: cur.ReissuesInYear}
		eff.NewCode = true
	case Reissue:
		if !cur.Status.Live() {
			return Record{}, Effect{}, wrongState(cur.Status)
		}
		if cur.Status == Suspended && cur.SuspendedBy == ByAuthority && by != ByAuthority {
			return Record{}, Effect{}, ErrByAuth
		}
		year := now.In(stats.Korea).Year()
		used := cur.ReissuesUsed(now)
		if by == ByHolder && used >= p.ReissuesPerYear {
			return Record{}, Effect{}, ErrQuota
		}
		next.Code, next.Status, next.SuspendedBy = "", Active, ""
		next.IssuedAt, next.ExpiresAt = now, expiry(now, p)
		next.ReissueYear, next.ReissuesInYear = year, used+1
		eff.NewCode, eff.RetireCode = true, cur.Code
	case Suspend:
		switch {
		case cur.Status == Active:
		case cur.Status == Suspended && by == ByAuthority && cur.SuspendedBy != ByAuthority:
			// The authority takes over a holder's own suspension.
		default:
			return Record{}, Effect{}, wrongState(cur.Status)
		}
		next.Status, next.SuspendedBy = Suspended, by
	case Resume:
		if cur.Status != Suspended {
			return Record{}, Effect{}, wrongState(cur.Status)
		}
		if cur.SuspendedBy == ByAuthority && by != ByAuthority {
			return Record{}, Effect{}, ErrByAuth
		}
		next.Status, next.SuspendedBy = Active, ""
	case Cancel:
		if cur.Status == Cancelled {
			return Record{}, Effect{}, wrongState(cur.Status)
		}
		next.Status, next.SuspendedBy = Cancelled, ""
		eff.RetireCode = cur.Code
	case Renew:
		if cur.Status == Cancelled {
			return Record{}, Effect{}, wrongState(cur.Status)
		}
		if now.Before(cur.ExpiresAt.Add(-p.RenewalWindow)) || !now.Before(cur.ExpiresAt.Add(p.RenewalWindow)) {
			return Record{}, Effect{}, ErrWindow(p)
		}
		if cur.Status == Expired {
			// An expired code comes back as it was: a suspension by the
			// authority survives expiry and renewal.
			next.Status = Active
			if cur.SuspendedBy != "" {
				next.Status = Suspended
			}
		}
		next.ExpiresAt = expiry(now, p)
	case Update:
		if !cur.Status.Live() {
			return Record{}, Effect{}, wrongState(cur.Status)
		}
		// DOMAIN.md: validity runs from the last change of details.
		next.ExpiresAt = expiry(now, p)
	case Expire:
		if !cur.Status.Live() || now.Before(cur.ExpiresAt) {
			return Record{}, Effect{}, ErrNotDue
		}
		next.Status = Expired // SuspendedBy is kept: see Renew
	case Lapse:
		if cur.Status != Expired || now.Before(cur.ExpiresAt.Add(p.RenewalWindow)) {
			return Record{}, Effect{}, ErrNotDue
		}
		next.Status, next.SuspendedBy = Cancelled, ""
		eff.RetireCode = cur.Code
	default:
		return Record{}, Effect{}, apperr.New(apperr.Invalid, "Unknown command.")
	}
	return next, eff, nil
}

func expiry(from time.Time, p Policy) time.Time {
	return from.AddDate(0, p.ValidityMonths, 0)
}
