package dynamo

import "github.com/pccc/pccc/shared/holder"

// The code store and the request store keep the domain's own types
// (shared/holder: holders, changes, the expiry index's entries, requests)
// and report the domain's own errors (holder.ErrNoHolder, ErrStaleHolder,
// ErrNoRequest, ...), so the commands' ports (shared/lifecycle) speak
// those, not this package's records; these names keep the store's code and
// tests short.
type (
	// Holder is a holder as stored: holder.Stored.
	Holder = holder.Stored
	// Change is one applied state change: holder.Change.
	Change = holder.Change
	// DueEntry is one holder of the expiry index: holder.Due.
	DueEntry = holder.Due
)
