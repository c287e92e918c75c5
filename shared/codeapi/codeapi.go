// Package codeapi serves API.md's "The holder's code" routes and builds the
// functions behind them: the command endpoints (answered 202 and carried
// out behind the command queue), the lookup, the request status, the
// worker and the daily expiry job.
//
// Decoding and presence checks live here; every rule is shared/holder's and
// every step of a command is shared/lifecycle's.
package codeapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pccc/pccc/shared/admission"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/idempotency"
	"github.com/pccc/pccc/shared/lifecycle"
	"github.com/pccc/pccc/shared/notify"
	"github.com/pccc/pccc/shared/session"
)

// Route keys, as template.yaml declares them.
const (
	RouteIssue   = "POST /v1/codes"
	RouteLookup  = "GET /v1/codes/me"
	RouteReissue = "POST /v1/codes/me/reissue"
	RouteSuspend = "POST /v1/codes/me/suspend"
	RouteResume  = "POST /v1/codes/me/resume"
	RouteCancel  = "POST /v1/codes/me/cancel"
	RouteRenew   = "POST /v1/codes/me/renew"
	RouteUpdate  = "PATCH /v1/codes/me"
	RouteRequest = "GET /v1/requests/{requestId}"
)

// Reasons a holder may give for a reissue, suspension or cancellation.
var Reasons = []string{"leak_concern", "lost", "misuse_suspected", "no_longer_needed", "other"}

const msgReason = "must be one of leak_concern, lost, misuse_suspected, no_longer_needed, other"

// Accepted is the 202 answer to a command.
type Accepted struct {
	RequestID string `json:"requestId"`
	Status    string `json:"status"`
	StatusURL string `json:"statusUrl"`
}

// ReasonBody is the body of reissue, suspend and cancel.
type ReasonBody struct {
	Reason *string `json:"reason"`
}

// EmptyBody is the body of resume and renew: nothing, or {}.
type EmptyBody struct{}

// Submitter queues commands (*lifecycle.Service).
type Submitter interface {
	Submit(ctx context.Context, hk string, c lifecycle.Command) (lifecycle.Receipt, error)
}

// submit queues c with the call's Idempotency-Key, if any, and answers 202
// (the first answer again, marked, for a replay of the key).
func submit(ctx context.Context, s Submitter, req *httpapi.Request, hk string, c lifecycle.Command) (*httpapi.Response, error) {
	key, err := idempotency.ParseKey(req.Header(idempotency.Header))
	if err != nil {
		return nil, err
	}
	if key != "" {
		body, err := httpapi.Body(req)
		if err != nil {
			return nil, err
		}
		c.Key, c.PayloadHash = key, idempotency.Fingerprint(req.Event.RouteKey, body)
	}
	rc, err := s.Submit(ctx, hk, c)
	if err != nil {
		return nil, err
	}
	r := rc.Request
	resp := httpapi.JSON(http.StatusAccepted, Accepted{RequestID: r.ID, Status: holder.RequestQueued, StatusURL: "/v1/requests/" + r.ID})
	if rc.Replayed {
		resp.Headers = map[string]string{idempotency.ReplayedHeader: "true"}
	}
	return resp, nil
}

// decodeOptional decodes a body that may be absent.
func decodeOptional(req *httpapi.Request, dst any) error {
	b, err := httpapi.Body(req)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil
	}
	return httpapi.DecodeJSON(req, dst)
}

// DecodeIssue decodes and validates POST /v1/codes.
func DecodeIssue(req *httpapi.Request) (holder.Details, error) {
	var in holder.IssueInput
	if err := httpapi.DecodeJSON(req, &in); err != nil {
		return holder.Details{}, err
	}
	return holder.ValidateIssue(in)
}

// DecodeUpdate decodes and validates PATCH /v1/codes/me.
func DecodeUpdate(req *httpapi.Request) (map[string]string, error) {
	var in holder.UpdateInput
	if err := httpapi.DecodeJSON(req, &in); err != nil {
		return nil, err
	}
	return holder.ValidateUpdate(in)
}

// DecodeReason decodes a reason body; required says whether the reason
// must be there.
func DecodeReason(req *httpapi.Request, required bool) (string, error) {
	var in ReasonBody
	if err := decodeOptional(req, &in); err != nil {
		return "", err
	}
	if in.Reason == nil {
		if required {
			return "", apperr.InvalidField("reason", "is required; "+msgReason)
		}
		return "", nil
	}
	for _, r := range Reasons {
		if *in.Reason == r {
			return r, nil
		}
	}
	return "", apperr.InvalidField("reason", msgReason)
}

// DecodeEmpty accepts no body or {}.
func DecodeEmpty(req *httpapi.Request) error {
	var in EmptyBody
	return decodeOptional(req, &in)
}

// Issue serves POST /v1/codes.
func Issue(s Submitter) session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		d, err := DecodeIssue(req)
		if err != nil {
			return nil, err
		}
		return submit(ctx, s, req, c.HolderKey, lifecycle.Command{Kind: holder.Issue, Fields: d.Fields()})
	}
}

// Update serves PATCH /v1/codes/me.
func Update(s Submitter) session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		fields, err := DecodeUpdate(req)
		if err != nil {
			return nil, err
		}
		return submit(ctx, s, req, c.HolderKey, lifecycle.Command{Kind: holder.Update, Fields: fields})
	}
}

// Change serves the body-less or reason-only commands on /v1/codes/me.
func Change(s Submitter, k holder.Kind) session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		var reason string
		var err error
		switch k {
		case holder.Reissue:
			reason, err = DecodeReason(req, true)
		case holder.Suspend, holder.Cancel:
			reason, err = DecodeReason(req, false)
		default:
			err = DecodeEmpty(req)
		}
		if err != nil {
			return nil, err
		}
		return submit(ctx, s, req, c.HolderKey, lifecycle.Command{Kind: k, Reason: reason})
	}
}

// CodeView is the 200 answer of GET /v1/codes/me.
type CodeView struct {
	Code             string           `json:"code"`
	Status           string           `json:"status"`
	SuspendedBy      string           `json:"suspendedBy,omitempty"`
	IssuedAt         string           `json:"issuedAt"`
	ExpiresAt        string           `json:"expiresAt"`
	RenewableFrom    string           `json:"renewableFrom,omitempty"`
	RenewableUntil   string           `json:"renewableUntil,omitempty"`
	ReissuesThisYear int              `json:"reissuesThisYear"`
	ReissuesLeft     int              `json:"reissuesLeft"`
	KoreanName       string           `json:"koreanName,omitempty"`
	EnglishName      string           `json:"englishName,omitempty"`
	Nationality      string           `json:"nationality,omitempty"`
	Addresses        []holder.Address `json:"addresses"`
	Phone            string           `json:"phone,omitempty"`
	Email            string           `json:"email,omitempty"`
	Language         string           `json:"language"`
}

// Opener opens sealed fields (sealer.Sealer).
type Opener interface {
	Open(aad, sealed string) ([]byte, error)
}

// Holders reads holders (dynamo.CodeStore).
type Holders interface {
	Holder(ctx context.Context, hk string) (dynamo.Holder, error)
}

// Lookup serves GET /v1/codes/me. It decrypts only the caller's own fields.
func Lookup(hs Holders, open Opener, p holder.Policy, now func() time.Time) session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		h, err := hs.Holder(ctx, c.HolderKey)
		if errors.Is(err, holder.ErrNoHolder) {
			return nil, holder.ErrNoCode
		}
		if err != nil {
			return nil, err
		}
		plain := map[string]string{}
		for name, v := range h.Sealed {
			b, err := open.Open(holder.FieldAAD(c.HolderKey, name), v)
			if err != nil {
				return nil, err
			}
			plain[name] = string(b)
		}
		d, err := holder.DetailsFromFields(plain)
		if err != nil {
			return nil, err
		}
		t := now()
		r := lifecycle.RecordOf(h)
		status := r.Status
		// The daily job catches up within a day; the answer must not wait
		// for it.
		if status.Live() && !t.Before(r.ExpiresAt) {
			status = holder.Expired
		}
		v := CodeView{
			Code: r.Code, Status: string(status), SuspendedBy: string(r.SuspendedBy),
			IssuedAt: rfc3339(r.IssuedAt), ExpiresAt: rfc3339(r.ExpiresAt),
			ReissuesThisYear: r.ReissuesUsed(t), ReissuesLeft: r.ReissuesLeft(t, p),
			KoreanName: d.KoreanName, EnglishName: d.EnglishName, Nationality: d.Nationality,
			Addresses: d.Addresses, Phone: d.Phone, Email: d.Email, Language: noticeLanguage(d.Language),
		}
		if status != holder.Cancelled {
			// The window a renewal is accepted in; a cancelled code has none.
			v.RenewableFrom = rfc3339(r.ExpiresAt.Add(-p.RenewalWindow))
			v.RenewableUntil = rfc3339(r.ExpiresAt.Add(p.RenewalWindow))
		}
		if v.Addresses == nil {
			v.Addresses = []holder.Address{}
		}
		return httpapi.JSON(http.StatusOK, v), nil
	}
}

// RequestView is the 200 answer of GET /v1/requests/{requestId}.
type RequestView struct {
	RequestID string `json:"requestId"`
	Kind      string `json:"kind"`
	Status    string `json:"status"`
	Code      string `json:"code,omitempty"`
	Error     string `json:"error,omitempty"`
	CreatedAt string `json:"createdAt"`
	// While queued: the estimated place in line (1 = next) and wait.
	Position             int `json:"position,omitempty"`
	EstimatedWaitSeconds int `json:"estimatedWaitSeconds,omitempty"`
}

// RequestReader reads requests (dynamo.RequestStore).
type RequestReader interface {
	Get(ctx context.Context, id string) (holder.Request, error)
}

var (
	errNoRequest  = apperr.New(apperr.NotFound, "No such request.")
	errNotYours   = apperr.New(apperr.Forbidden, "This request belongs to someone else.")
	errRequestKey = apperr.InvalidField("requestId", "must be a request id as returned by a command")
)

// RequestStatus serves GET /v1/requests/{requestId}; only the holder who
// made a request may read it. A queued request also says where it stands,
// estimated from its place when queued and the workers' drain rate.
func RequestStatus(rs RequestReader, drainRate float64, now func() time.Time) session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		id := req.PathParam("requestId")
		if !requestIDShape(id) {
			return nil, errRequestKey
		}
		r, err := rs.Get(ctx, id)
		// A refused command's record only keeps the refusal for its key:
		// it was never a request.
		if errors.Is(err, holder.ErrNoRequest) || err == nil && r.Status == holder.RequestRefused {
			return nil, errNoRequest
		}
		if err != nil {
			return nil, err
		}
		if r.Owner == "" || r.Owner != c.HolderKey {
			return nil, errNotYours
		}
		v := RequestView{RequestID: r.ID, Kind: r.Kind, Status: r.Status, CreatedAt: rfc3339(r.CreatedAt)}
		if r.Status == holder.RequestSucceeded {
			v.Code = r.Code
		}
		if r.Status == holder.RequestFailed {
			v.Error = r.Error
		}
		if r.Status == holder.RequestQueued && r.Position > 0 {
			v.Position = admission.Position(r.Position, r.CreatedAt, now(), drainRate)
			v.EstimatedWaitSeconds = max(1, int(admission.Wait(v.Position, drainRate).Seconds()+0.5))
		}
		return httpapi.JSON(http.StatusOK, v), nil
	}
}

// requestIDShape accepts what lifecycle.NewRequestID makes (22 URL-safe
// base64 characters) and bounds anything else before it reaches the table.
func requestIDShape(id string) bool {
	if len(id) < 1 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// noticeLanguage is the language the holder's notices go in: Korean
// unless they chose English.
func noticeLanguage(l string) string {
	if l == notify.English {
		return notify.English
	}
	return notify.Korean
}
