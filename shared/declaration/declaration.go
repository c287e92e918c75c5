// Package declaration owns the rules of an import declaration a broker
// files for a code's holder (issue 6, after Taiwan's EZ WAY, DOMAIN.md):
// what a declaration's goods must look like, the states it goes through,
// who must confirm it, until when, and what a denial sets off.
//
// A declaration is filed only after the same check a clearance check makes
// (shared/clearanceapi's Checker): a mismatch records nothing here. On a
// match it is either accepted at once or, when the holder (or, by policy,
// everyone) must confirm, pending until the holder confirms or denies it
// or its deadline passes:
//
//	pending --confirm--> accepted
//	pending --deny-----> denied   (suspected misuse; by policy the code is suspended)
//	pending --deadline-> expired  (read so at once; nothing has to run)
//
// No AWS imports: storage is shared/dynamo's, the endpoints
// shared/declarationapi's.
package declaration

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

// Status is a declaration's state as the API answers it.
type Status string

const (
	Pending  Status = "pending"
	Accepted Status = "accepted"
	Denied   Status = "denied"
	Expired  Status = "expired"
)

// Statuses lists the states, in the order a declaration meets them.
func Statuses() []Status { return []Status{Pending, Accepted, Denied, Expired} }

// Valid reports whether s is a known state.
func (s Status) Valid() bool {
	for _, x := range Statuses() {
		if x == s {
			return true
		}
	}
	return false
}

// Confirmation is who must confirm a declaration before it is accepted.
type Confirmation string

const (
	// OptIn: only holders who turned confirmation on.
	OptIn Confirmation = "opt-in"
	// Everyone: every holder; nothing is accepted unconfirmed.
	Everyone Confirmation = "everyone"
)

// Policy is the configurable part of the rules.
type Policy struct {
	Confirmation Confirmation
	// ConfirmWithin is how long a pending declaration waits for the
	// holder before it lapses to expired.
	ConfirmWithin time.Duration
	// DenialSuspends queues a suspension of the holder's code, by the
	// authority, when the holder denies a declaration.
	DenialSuspends bool
}

// Settings' names and bounds.
const (
	EnvConfirmation   = "DECLARATION_CONFIRMATION"
	EnvConfirmWithin  = "DECLARATION_CONFIRM_WITHIN"
	EnvDenialSuspends = "DECLARATION_DENIAL_SUSPENDS"
	MinConfirmWithin  = time.Minute
	MaxConfirmWithin  = 30 * 24 * time.Hour
)

// DefaultPolicy: opt-in confirmation, 72 hours to confirm, and a denial
// recorded as suspected misuse without suspending the code. Suspension is
// off by default because a holder who denies has already stopped the
// declaration, and an authority suspension is one the holder cannot lift
// (only a reissue, which spends their yearly quota, gets a working code
// back); the authority turns it on when it wants leaked codes stopped at
// once.
func DefaultPolicy() Policy {
	return Policy{Confirmation: OptIn, ConfirmWithin: 72 * time.Hour, DenialSuspends: false}
}

// PolicyFrom reads the policy from the environment; a bad value is an
// error naming the setting, for the cold start to fail on.
func PolicyFrom(getenv func(string) string) (Policy, error) {
	p := DefaultPolicy()
	if v := strings.TrimSpace(getenv(EnvConfirmation)); v != "" {
		switch Confirmation(v) {
		case OptIn, Everyone:
			p.Confirmation = Confirmation(v)
		default:
			return Policy{}, fmt.Errorf("%s must be %q or %q", EnvConfirmation, OptIn, Everyone)
		}
	}
	if v := strings.TrimSpace(getenv(EnvConfirmWithin)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < MinConfirmWithin || d > MaxConfirmWithin {
			return Policy{}, fmt.Errorf("%s must be a duration from %v to %v (such as 72h)", EnvConfirmWithin, MinConfirmWithin, MaxConfirmWithin)
		}
		p.ConfirmWithin = d
	}
	if v := strings.TrimSpace(getenv(EnvDenialSuspends)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Policy{}, fmt.Errorf("%s must be true or false", EnvDenialSuspends)
		}
		p.DenialSuspends = b
	}
	return p, nil
}

// MustConfirm reports whether a declaration for a holder waits for their
// confirmation: always under Everyone, else when the holder turned it on.
func (p Policy) MustConfirm(holderWants bool) bool {
	return p.Confirmation == Everyone || holderWants
}

// Declaration is one filed declaration. It holds no name, phone or zip:
// those are checked and forgotten, like a clearance check's.
type Declaration struct {
	ID        string
	HolderKey string // whose code it names; only they may confirm or deny
	KeyID     string // the API key that filed it; only it may read it
	FiledBy   string // the key's owner, a business, shown to the holder
	CheckID   string // the clearance check it passed
	Code      string
	Goods     Goods
	Status    Status // as stored; StatusAt says what it is now
	FiledAt   time.Time
	// ConfirmBy is the deadline of a declaration that waits for the
	// holder; zero for one accepted at once.
	ConfirmBy time.Time
	DecidedAt time.Time // when it was accepted, denied (or expired); zero while pending
}

// New is a declaration filed now for a holder after a matching check:
// pending until now+ConfirmWithin when the holder must confirm, else
// accepted at once.
func New(p Policy, holderWants bool, d Declaration, now time.Time) Declaration {
	d.FiledAt = now.UTC()
	if p.MustConfirm(holderWants) {
		d.Status, d.ConfirmBy = Pending, d.FiledAt.Add(p.ConfirmWithin)
		return d
	}
	d.Status, d.DecidedAt = Accepted, d.FiledAt
	return d
}

// StatusAt is the state at now: a pending declaration whose deadline has
// passed is expired, whatever the store still says, so the lapse needs no
// job to show everywhere at once.
func (d Declaration) StatusAt(now time.Time) Status {
	if d.Status == Pending && !now.Before(d.ConfirmBy) {
		return Expired
	}
	return d.Status
}

// AsOf is the declaration as it reads at now (StatusAt, with the deadline
// as the time an expired one was decided).
func (d Declaration) AsOf(now time.Time) Declaration {
	if st := d.StatusAt(now); st != d.Status {
		d.Status, d.DecidedAt = st, d.ConfirmBy
	}
	return d
}

// Action is what a holder does with a pending declaration.
type Action string

const (
	Confirm Action = "confirm"
	Deny    Action = "deny"
)

// Outcome is the state an action leads to.
func (a Action) Outcome() Status {
	if a == Deny {
		return Denied
	}
	return Accepted
}

// Refusals of a holder's action, as the API sends them.
var (
	ErrNotFound = apperr.New(apperr.NotFound, "No such declaration.")
	ErrExpired  = apperr.New(apperr.Conflict, "The time to confirm this declaration has passed; it has expired and will not be accepted.")
	ErrDecided  = apperr.New(apperr.Conflict, "This declaration was already decided.")
)

// Decide checks an action on a declaration as read at now. An action
// repeated on a declaration it already led to is not refused (replay is
// true), so a holder whose answer was lost can send it again; any other
// action on a declaration that is not pending is a 409, and so is one
// after the deadline.
func Decide(d Declaration, a Action, now time.Time) (replay bool, err error) {
	switch d.StatusAt(now) {
	case Pending:
		return false, nil
	case Expired:
		return false, ErrExpired
	case a.Outcome():
		return true, nil
	default:
		return false, ErrDecided
	}
}

// Notifier hears of every declaration recorded for a holder, so they can
// be told (push or SMS: another package's job). It names the holder by key
// and the declaration by id only. An error is logged, never changing the
// answer.
type Notifier interface {
	// DeclarationFiled: sealedPhone is the holder's phone as the holder
	// item keeps it (sealed; "" for none); pending says it waits for the
	// holder's answer, otherwise it was accepted at once.
	DeclarationFiled(ctx context.Context, holderKey, sealedPhone, declarationID string, pending bool) error
}

// ErrConflict is a state change that lost to another (the store's
// condition failed): the caller reads again and decides again.
var ErrConflict = errors.New("declaration: changed since it was read")
