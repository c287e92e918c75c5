// Package idempotency owns the Idempotency-Key rules of API.md, written
// once: the same key with the same body gets the first answer again; the
// same key with another body gets 409 CONFLICT.
//
// It follows the Powertools for AWS Lambda model. A call claims a record
// for (caller, key) with a conditional write, so two concurrent calls with
// one key cannot both run. The record is IN PROGRESS until the call ends,
// then COMPLETED with the answer, and expires after a day. An in-progress
// record has its own short expiry, so a function that crashed mid-call
// does not leave the key stuck forever. A payload hash, checked on every
// replay, tells a retry from a reuse of the key for something else.
//
// Answers worth replaying are stored: successes and refusals that a retry
// would get again (400, 403, 404, 409, 422). Answers that depend on the
// moment (429, 503, 500) release the claim instead, so a retry runs anew.
package idempotency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/session"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// ReplayedHeader marks an answer that is a replay of the first one.
const ReplayedHeader = "Idempotent-Replayed"

// MaxKeyLen is API.md's limit.
const MaxKeyLen = 128

// Record states.
const (
	InProgress = "INPROGRESS"
	Completed  = "COMPLETED"
)

// Record is one claimed key.
type Record struct {
	Scope, Key      string // the caller (a holder key) and their key
	Status          string
	PayloadHash     string
	Outcome         []byte // the stored answer, when Completed
	InProgressUntil time.Time
	ExpiresAt       time.Time
}

// Store keeps records (dynamo.IdempotencyStore).
type Store interface {
	// Claim writes rec unless a record for its scope and key exists that
	// has not expired (nor, if in progress, passed InProgressUntil). It
	// returns (rec, true) when it claimed, (the existing record, false)
	// when it did not.
	Claim(ctx context.Context, rec Record, now time.Time) (Record, bool, error)
	// Complete stores the outcome of a claimed record.
	Complete(ctx context.Context, rec Record) error
	// Release removes a claimed, still in-progress record.
	Release(ctx context.Context, rec Record) error
}

// Guard applies the rules around endpoints.
type Guard struct {
	Store Store
	// TTL is how long a completed answer is replayed; default 24h.
	TTL time.Duration
	// InProgressTTL is how long a claim blocks other calls with the key
	// when its call never finishes (a crash); default 30s, above the
	// functions' timeout.
	InProgressTTL time.Duration
	Now           func() time.Time
	Log           *slog.Logger
}

// Problems, as API.md words them.
var (
	errKey = apperr.InvalidField(Header, "must be 1-128 printable ASCII characters")
	// ErrReused is the key used again with a different request.
	ErrReused = apperr.New(apperr.Conflict, "This Idempotency-Key was already used for a different request.")
	// ErrBusy is the key's first request still running.
	ErrBusy = apperr.New(apperr.Conflict, "A request with this Idempotency-Key is still in progress.").WithRetryAfter(time.Second)
)

// ParseKey checks a header value: "" (no key) or 1-128 printable ASCII.
func ParseKey(v string) (string, error) {
	if len(v) > MaxKeyLen {
		return "", errKey
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", errKey
		}
	}
	return v, nil
}

// Fingerprint is the payload hash: the route and the exact body.
func Fingerprint(route string, body []byte) string {
	h := sha256.New()
	h.Write([]byte(route))
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// outcome is a stored answer.
type outcome struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body,omitempty"`
	Error  *storedError    `json:"error,omitempty"`
}

type storedError struct {
	Code    apperr.Code       `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
	Details map[string]any    `json:"details,omitempty"`
}

func storedErrorOf(e *apperr.Error) *storedError {
	return &storedError{Code: e.Code, Message: e.Message, Fields: e.Fields, Details: e.Details}
}

func (s *storedError) err() error {
	return &apperr.Error{Code: s.Code, Message: s.Message, Fields: s.Fields, Details: s.Details}
}

// EncodeRefusal is a refusal as a key's replays get it again, and
// DecodeRefusal reads it back: the Guard stores its refusals so, and a
// keyed command keeps its own on its request record (lifecycle).
func EncodeRefusal(err error) string {
	b, _ := json.Marshal(storedErrorOf(apperr.As(err)))
	return string(b)
}

// DecodeRefusal reads what EncodeRefusal wrote.
func DecodeRefusal(stored string) error {
	var s storedError
	if err := json.Unmarshal([]byte(stored), &s); err != nil || s.Code == "" {
		return errors.New("idempotency: stored refusal unreadable")
	}
	return s.err()
}

// replayable says which refusals a retry would meet again.
func replayable(c apperr.Code) bool {
	switch c {
	case apperr.Invalid, apperr.Forbidden, apperr.PolicyDenied, apperr.NotFound, apperr.Conflict, apperr.VerificationFailed:
		return true
	}
	return false
}

// Holder wraps a holder endpoint: the scope of a key is the holder, so two
// holders' keys never meet. Without the header the endpoint runs as is.
func (g *Guard) Holder(next session.HolderEndpoint) session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		return g.keyed(ctx, req, c.HolderKey, func(ctx context.Context) (*httpapi.Response, error) {
			return next(ctx, req, c)
		})
	}
}

// Caller wraps an endpoint behind an API key: the scope of a key is the
// API key's id, so two brokers' keys never meet (nor a holder's, whose
// scope is 64 hex digits). Without the header the endpoint runs as is.
func (g *Guard) Caller(next apikey.CallerEndpoint) apikey.CallerEndpoint {
	return func(ctx context.Context, req *httpapi.Request, caller apikey.Record) (*httpapi.Response, error) {
		return g.keyed(ctx, req, "apikey:"+caller.ID, func(ctx context.Context) (*httpapi.Response, error) {
			return next(ctx, req, caller)
		})
	}
}

// keyed runs a call under its Idempotency-Key in scope, or as is without one.
func (g *Guard) keyed(ctx context.Context, req *httpapi.Request, scope string, run func(context.Context) (*httpapi.Response, error)) (*httpapi.Response, error) {
	key, err := ParseKey(req.Header(Header))
	if err != nil {
		return nil, err
	}
	if key == "" {
		return run(ctx)
	}
	body, err := httpapi.Body(req)
	if err != nil {
		return nil, err
	}
	return g.Do(ctx, scope, key, Fingerprint(req.Event.RouteKey, body), run)
}

// Do runs fn at most once per (scope, key) while the record lives.
func (g *Guard) Do(ctx context.Context, scope, key, hash string, fn func(context.Context) (*httpapi.Response, error)) (*httpapi.Response, error) {
	now := g.now()
	rec := Record{
		Scope: scope, Key: key, Status: InProgress, PayloadHash: hash,
		InProgressUntil: now.Add(durationOr(g.InProgressTTL, 30*time.Second)),
		ExpiresAt:       now.Add(durationOr(g.TTL, 24*time.Hour)),
	}
	got, claimed, err := g.Store.Claim(ctx, rec, now)
	if err != nil {
		return nil, err
	}
	if !claimed {
		switch {
		case got.PayloadHash != hash:
			return nil, ErrReused
		case got.Status == Completed:
			return replay(got.Outcome)
		default:
			return nil, ErrBusy
		}
	}
	resp, callErr := fn(ctx)
	out, ok := record(resp, callErr)
	if !ok {
		if err := g.Store.Release(ctx, rec); err != nil {
			g.log().WarnContext(ctx, "idempotency release failed", "err", err.Error())
		}
		return resp, callErr
	}
	rec.Status, rec.Outcome = Completed, out
	rec.ExpiresAt = g.now().Add(durationOr(g.TTL, 24*time.Hour))
	if err := g.Store.Complete(ctx, rec); err != nil {
		// The call is done; only the replay is lost. The claim expires
		// after InProgressTTL and a retry then runs anew.
		g.log().WarnContext(ctx, "idempotency complete failed", "err", err.Error())
	}
	return resp, callErr
}

// record encodes an outcome worth replaying.
func record(resp *httpapi.Response, err error) ([]byte, bool) {
	var o outcome
	if err != nil {
		e := apperr.As(err)
		if !replayable(e.Code) {
			return nil, false
		}
		o = outcome{Status: apperr.Status(e.Code), Error: storedErrorOf(e)}
	} else {
		if resp == nil || resp.Status >= 500 {
			return nil, false
		}
		o.Status = resp.Status
		if resp.Body != nil {
			b, err := json.Marshal(resp.Body)
			if err != nil {
				return nil, false
			}
			o.Body = b
		}
	}
	b, err := json.Marshal(o)
	return b, err == nil
}

func replay(stored []byte) (*httpapi.Response, error) {
	var o outcome
	if err := json.Unmarshal(stored, &o); err != nil {
		return nil, errors.Join(errors.New("idempotency: stored outcome unreadable"), err)
	}
	if o.Error != nil {
		return nil, o.Error.err()
	}
	resp := &httpapi.Response{Status: o.Status, Headers: map[string]string{ReplayedHeader: "true"}}
	if len(o.Body) > 0 {
		resp.Body = o.Body
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
	}
	return resp, nil
}

func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *Guard) log() *slog.Logger {
	if g.Log != nil {
		return g.Log
	}
	return slog.New(slog.DiscardHandler)
}

func durationOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
