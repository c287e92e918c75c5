package holder

import (
	"errors"
	"time"
)

// Request states, as API.md names them.
const (
	RequestQueued     = "queued"
	RequestProcessing = "processing"
	RequestSucceeded  = "succeeded"
	RequestFailed     = "failed"
	// RequestRefused is a keyed command refused at once: its record keeps
	// the refusal for replays of the key and is no request to its owner.
	RequestRefused = "refused"
)

// Request is a holder's queued command as its owner sees it. The commands
// (shared/lifecycle) queue, claim and read requests as this; the request
// store (shared/dynamo) maps its REQ# items to it.
type Request struct {
	ID, Owner, Kind, Status, Code, Error string
	CreatedAt                            time.Time
	// Position is the request's place in line when it was queued (1 =
	// next), for the estimated wait; 0 when unknown.
	Position int
	// A command sent with an Idempotency-Key: the hash of what was asked
	// (route and body), until when the key is remembered, and for a
	// refused one the refusal (JSON) that replays of the key get.
	PayloadHash string
	KeyUntil    time.Time
	Refusal     string
	// Unsent marks a request that failed because it never reached the
	// queue; its key may be used again at once.
	Unsent bool
}

// ErrNoRequest is a request id that is not there.
var ErrNoRequest = errors.New("no such request")

// What the store of holders and codes reports when a change cannot be
// applied as asked; the commands decide what each means (retry, done
// already, refuse) and the API maps them to answers. The store
// (shared/dynamo) returns these values, wrapped or not, so errors.Is finds
// them.
var (
	ErrAlreadyIssued = errors.New("the holder already has a live code")
	ErrCodeTaken     = errors.New("that code number is already taken")
	ErrApplied       = errors.New("the request was already carried out")
	ErrStaleHolder   = errors.New("the holder changed since it was read")
	ErrNoHolder      = errors.New("no such holder")
)
