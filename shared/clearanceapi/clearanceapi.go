// Package clearanceapi serves POST /v1/clearance/checks, the check a
// broker or shop makes with an API key, and builds the function behind it.
//
// The rules (what matches, what is live) are shared/clearance's and the key
// is shared/apikey's; here are the decoding, the throttles, the reads, the
// record of each check and the wiring. Every failure, whatever failed,
// takes the same path: the same reads, the same openings of sealed fields,
// the same comparisons and the same writes, and the same answer.
package clearanceapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/clearance"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/stats"
)

// RouteCheck is the check's route key, as template.yaml declares it.
const RouteCheck = "POST /v1/clearance/checks"

// CheckRequest is the body of a check. Pointers tell a missing field from
// an empty one.
type CheckRequest struct {
	Code  *string `json:"code"`
	Name  *string `json:"name"`
	Phone *string `json:"phone"`
	Zip   *string `json:"zip"`
}

// CheckResponse is the 200 answer. Its shape is the same for a match and
// every mismatch; checkId is always 22 characters.
type CheckResponse struct {
	Result  string `json:"result"`
	CheckID string `json:"checkId"`
}

// DecodeCheck decodes and validates a check's body: a 400 naming each bad
// field, or the normalised query.
func DecodeCheck(req *httpapi.Request) (clearance.Query, error) {
	var in CheckRequest
	if err := httpapi.DecodeJSON(req, &in); err != nil {
		return clearance.Query{}, err
	}
	return clearance.Parse(clearance.Input{Code: in.Code, Name: in.Name, Phone: in.Phone, Zip: in.Zip})
}

// CodeReader says which holder a code belongs to (dynamo.CodeStore);
// holder.ErrNoHolder when the code is unknown.
type CodeReader interface {
	CodeOwner(ctx context.Context, code string) (holderKey, status string, err error)
}

// HolderReader reads a holder (dynamo.CodeStore); holder.ErrNoHolder when
// there is none.
type HolderReader interface {
	Holder(ctx context.Context, hk string) (dynamo.Holder, error)
}

// Sealer opens sealed fields and seals the decoy's (sealer.Sealer).
type Sealer interface {
	Open(aad, sealed string) ([]byte, error)
	Seal(aad string, plaintext []byte) (string, error)
}

// Limiter counts events in fixed windows (dynamo.Limiter).
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (ok bool, retryAfter time.Duration, err error)
}

// Recorder records checks and counts mismatches (dynamo.CheckStore).
type Recorder interface {
	Record(ctx context.Context, c dynamo.Check) error
	CountMismatch(ctx context.Context, code, day string, at time.Time) (int64, error)
}

// Mismatch is one mismatched check of a code, with the day's count so far.
type Mismatch struct {
	CheckID   string
	Code      string
	HolderKey string // "" when the code names no holder
	// Phone is the holder's phone as the holder item keeps it, sealed
	// ("" when there is none): a notice carries it to the SMS sender
	// without this function opening it.
	Phone string
	Day   string
	Count int64
}

// MismatchWatcher hears of every mismatch once it is counted
// (RepeatWatcher warns the holder and flags the code for the authority).
// An error is logged, the answer does not change.
type MismatchWatcher interface {
	Mismatched(ctx context.Context, m Mismatch) error
}

var (
	_ CodeReader   = (*dynamo.CodeStore)(nil)
	_ HolderReader = (*dynamo.CodeStore)(nil)
	_ Limiter      = (*dynamo.Limiter)(nil)
	_ Recorder     = (*dynamo.CheckStore)(nil)
)

// The fields a check compares, each sealed on its own under the holder.
var comparedFields = []string{holder.FieldKoreanName, holder.FieldEnglishName, holder.FieldPhone, holder.FieldAddresses}

// decoyHolder is the holder key read when a code is unknown: a key no
// holder can have (real ones are 64 hex digits), so the read finds nothing
// but costs what a real one does.
const decoyHolder = "clearance-decoy"

// Checker carries out checks.
type Checker struct {
	Codes   CodeReader
	Holders HolderReader
	Sealer  Sealer
	Limiter Limiter
	Records Recorder
	Watch   MismatchWatcher // nil: count only
	Log     *slog.Logger
	Now     func() time.Time
	// PerCodePerHour is how many checks one code may have an hour, over
	// all keys: the brake on a run guessing names and phones.
	PerCodePerHour int

	decoy map[string]string // sealed stand-ins for fields a holder lacks
}

// NewChecker checks the checker's parts and seals the decoy fields, which
// are opened in place of any field a holder lacks (no holder, no Korean
// name), so every check opens the same number of fields.
func NewChecker(c Checker) (*Checker, error) {
	if c.Codes == nil || c.Holders == nil || c.Sealer == nil || c.Limiter == nil || c.Records == nil || c.Log == nil {
		return nil, errors.New("clearance: codes, holders, sealer, limiter, records and log are required")
	}
	if c.PerCodePerHour < 1 {
		return nil, errors.New("clearance: the per-code limit must be at least 1")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	// Plausible plain values of the usual lengths, so opening one costs
	// what opening a holder's does. What they open to is thrown away
	// (read), so they can never match anything.
	plain := holder.Details{
		KoreanName: "가나다", EnglishName: "DECOY HOLDER", Phone: "01000000000",
		Addresses: []holder.Address{{Zip: "00000", Address: "decoy address line for equal work"}},
	}.Fields()
	c.decoy = map[string]string{}
	for _, f := range comparedFields {
		v, err := c.Sealer.Seal(holder.FieldAAD(decoyHolder, f), []byte(plain[f]))
		if err != nil {
			return nil, fmt.Errorf("clearance: seal decoy: %w", err)
		}
		c.decoy[f] = v
	}
	return &c, nil
}

// throttled is the 429 of a spent rate limit, naming it.
func throttled(limit apperr.Limit, msg string, wait time.Duration) error {
	return apperr.Limited(apperr.RateLimited, limit, msg, wait)
}

// AdmitKey counts a call against the key's own limit (checks a minute).
func (c *Checker) AdmitKey(ctx context.Context, caller apikey.Record) error {
	ok, wait, err := c.Limiter.Allow(ctx, "clearance#key#"+caller.ID, caller.RatePerMinute, time.Minute)
	if err != nil {
		return fmt.Errorf("key throttle: %w", err)
	}
	if !ok {
		return throttled(apperr.LimitKeyRate, "Too many checks with this API key. Please try again later.", wait)
	}
	return nil
}

// Check judges a query for a caller and records it. It returns the check's
// id and result; an error only for a spent per-code limit or a failing
// dependency.
func (c *Checker) Check(ctx context.Context, caller apikey.Record, q clearance.Query) (id, result string, err error) {
	o, err := c.Judge(ctx, caller, q)
	return o.CheckID, o.Result, err
}

// Outcome is a check as Judge answers it.
type Outcome struct {
	CheckID, Result string
	// HolderKey is the holder the code belongs to, and Phone their phone
	// as the holder item keeps it (sealed), on a match only: what a
	// declaration filed after the check is for and whom its notice goes to
	// (shared/declarationapi), without reading the holder again.
	HolderKey, Phone string
}

// Judge is Check, also naming the holder of a matching code. Callers
// other than Check must answer a mismatch exactly as Check's endpoint
// does, so the check's promise (no answer tells a guesser anything) holds
// for them too.
func (c *Checker) Judge(ctx context.Context, caller apikey.Record, q clearance.Query) (o Outcome, err error) {
	id, result, owner, phone, err := c.judge(ctx, caller, q)
	if err != nil {
		return Outcome{}, err
	}
	o = Outcome{CheckID: id, Result: result}
	if result == clearance.Match {
		o.HolderKey, o.Phone = owner, phone
	}
	return o, nil
}

func (c *Checker) judge(ctx context.Context, caller apikey.Record, q clearance.Query) (id, result, owner, phone string, err error) {
	// Counted by the code as sent, known or not, so the limit tells
	// nothing about whether a code exists.
	ok, wait, err := c.Limiter.Allow(ctx, "clearance#code#"+q.Code, c.PerCodePerHour, time.Hour)
	if err != nil {
		return "", "", "", "", fmt.Errorf("code throttle: %w", err)
	}
	if !ok {
		return "", "", "", "", throttled(apperr.LimitCodeChecks, "Too many checks of this code. Please try again later.", wait)
	}
	id, err = newCheckID()
	if err != nil {
		return "", "", "", "", err
	}
	now := c.Now()
	st, reg, phone, err := c.read(ctx, q.Code)
	if err != nil {
		return "", "", "", "", err
	}
	result = clearance.Judge(q, st.Live(q.Code, now), reg)

	rec := dynamo.Check{ID: id, KeyID: caller.ID, Code: q.Code, HolderKey: st.CodeOwner, Result: result, At: now}
	if err := c.Records.Record(ctx, rec); err != nil {
		return "", "", "", "", err
	}
	if result == clearance.Mismatch {
		day := stats.Day(now)
		count, err := c.Records.CountMismatch(ctx, q.Code, day, now)
		if err != nil {
			return "", "", "", "", err
		}
		if c.Watch != nil {
			m := Mismatch{CheckID: id, Code: q.Code, HolderKey: st.CodeOwner, Phone: phone, Day: day, Count: count}
			if err := c.Watch.Mismatched(ctx, m); err != nil {
				c.Log.WarnContext(ctx, "mismatch hook failed", "checkId", id, "err", err.Error())
			}
		}
	}
	// The key id is public and the check id ours; the code, name, phone
	// and zip stay out of the logs.
	c.Log.InfoContext(ctx, "clearance check", "checkId", id, "keyId", caller.ID, "result", result)
	return id, result, st.CodeOwner, phone, nil
}

// read does the same two reads and the same four openings for every code:
// an unknown code reads the decoy holder, and a field the holder lacks is
// opened from the decoy. It also returns the code owner's phone, still
// sealed, for a notice.
func (c *Checker) read(ctx context.Context, code string) (clearance.Standing, clearance.Registered, string, error) {
	var st clearance.Standing
	owner, codeStatus, err := c.Codes.CodeOwner(ctx, code)
	switch {
	case err == nil:
		st.CodeFound, st.CodeLive, st.CodeOwner = true, codeStatus == dynamo.CodeLive, owner
	case !errors.Is(err, holder.ErrNoHolder):
		return st, clearance.Registered{}, "", err
	}
	hk := decoyHolder
	if st.CodeOwner != "" {
		hk = st.CodeOwner
	}
	h, err := c.Holders.Holder(ctx, hk)
	switch {
	case err == nil:
		st.HolderFound, st.HolderKey, st.HolderCode = true, h.Key, h.Code
		st.HolderStatus, st.ExpiresAt = holder.Status(h.Status), h.ExpiresAt
	case !errors.Is(err, holder.ErrNoHolder):
		return st, clearance.Registered{}, "", err
	}
	plain := map[string]string{}
	for _, f := range comparedFields {
		sealed, aad, real := h.Sealed[f], holder.FieldAAD(hk, f), st.HolderFound
		if sealed == "" || !real {
			sealed, aad, real = c.decoy[f], holder.FieldAAD(decoyHolder, f), false
		}
		b, err := c.Sealer.Open(aad, sealed)
		if err != nil {
			return st, clearance.Registered{}, "", fmt.Errorf("open %s: %w", f, err)
		}
		if real {
			plain[f] = string(b)
		}
	}
	d, err := holder.DetailsFromFields(plain)
	if err != nil {
		return st, clearance.Registered{}, "", err
	}
	phone := ""
	if st.HolderFound && st.HolderKey == st.CodeOwner {
		phone = h.Sealed[holder.FieldPhone]
	}
	return st, clearance.RegisteredOf(d), phone, nil
}

// Endpoint serves POST /v1/clearance/checks for a caller whose key
// authenticated: the key's limit, then the body, then the check.
func Endpoint(c *Checker) apikey.CallerEndpoint {
	return func(ctx context.Context, req *httpapi.Request, caller apikey.Record) (*httpapi.Response, error) {
		if err := c.AdmitKey(ctx, caller); err != nil {
			return nil, err
		}
		q, err := DecodeCheck(req)
		if err != nil {
			return nil, err
		}
		id, result, err := c.Check(ctx, caller, q)
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, CheckResponse{Result: result, CheckID: id}), nil
	}
}

// newCheckID returns 128 random bits, URL-safe: 22 characters.
func newCheckID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("check id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
