package holder

import (
	"time"

	"github.com/pccc/pccc/shared/stats"
)

// Stored is one holder as kept: their current code, its state, their
// sealed details and the version the next write is conditioned on. The
// store (shared/dynamo) reads and writes it; the commands (shared/lifecycle)
// decide on it.
type Stored struct {
	Key            string
	Code           string
	Status         string // active, suspended, cancelled, expired
	SuspendedBy    string // holder or authority, when suspended
	IssuedAt       time.Time
	ExpiresAt      time.Time
	ReissueYear    int // the calendar year ReissuesInYear counts
	ReissuesInYear int
	Sealed         map[string]string // personal fields, each sealed under its own AAD
	Version        int64
	// Due is when the daily job must next look at the holder (expiry, or
	// the end of the renewal window); zero for none. It is the expiry
	// index's key.
	Due time.Time
}

// Change is one state change of a holder, which the store applies in one
// transaction with its code items, audit event, request status and
// statistics counter.
type Change struct {
	RequestID string
	Actor     string     // holder, authority, system
	Kind      stats.Kind // the command's figure
	// Counts are the figures to add one to, at At (Counts); default
	// Kind alone.
	Counts  []stats.Kind
	Command string // what the audit event says happened; default Kind
	At      time.Time
	// Old is the holder as read (zero Version: the holder is new or has no
	// live code). New is the holder to write.
	Old, New Stored
	// NewCode is a code to create (issue, reissue); RetireCode one to retire.
	NewCode, RetireCode string
}

// Due is a holder the daily job must look at on a day: its key and status
// as the expiry index has them.
type Due struct {
	HolderKey, Status string
}
