// Package declarationapi serves the declaration routes and builds the two
// functions behind them: the broker's (filing with an API key, and reading
// what the key filed) and the holder's (their declarations, confirming or
// denying them, and their confirmation setting).
//
// The rules are shared/declaration's; the check a filing runs is
// shared/clearanceapi's Checker, unchanged, so a filing is counted and
// throttled as a check is and a mismatch gets the check's own answer.
package declarationapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/clearance"
	"github.com/pccc/pccc/shared/clearanceapi"
	"github.com/pccc/pccc/shared/declaration"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/lifecycle"
	"github.com/pccc/pccc/shared/session"
)

// Route keys, as template.yaml declares them.
const (
	RouteFile       = "POST /v1/declarations"
	RouteGet        = "GET /v1/declarations/{id}"
	RouteList       = "GET /v1/declarations"
	RouteConfirm    = "POST /v1/declarations/{id}/confirm"
	RouteDeny       = "POST /v1/declarations/{id}/deny"
	RouteSetting    = "GET /v1/codes/me/confirmation"
	RouteSetSetting = "PUT /v1/codes/me/confirmation"
)

// ListLimit is how many of a holder's newest declarations the list reads.
// Pending ones are at most DECLARATION_CONFIRM_WITHIN old, so they are
// among the newest.
const ListLimit = 100

// FileRequest is the body of a filing: the check's four fields and the
// goods. Pointers tell a missing field from an empty one.
type FileRequest struct {
	Code     *string                  `json:"code"`
	Name     *string                  `json:"name"`
	Phone    *string                  `json:"phone"`
	Zip      *string                  `json:"zip"`
	Waybill  *string                  `json:"waybill"`
	Items    *[]declaration.ItemInput `json:"items"`
	Value    json.RawMessage          `json:"value"`
	Currency *string                  `json:"currency"`
}

// Filing is a decoded, valid filing.
type Filing struct {
	Query clearance.Query
	Goods declaration.Goods
}

// DecodeFile decodes and validates a filing: one 400 naming every bad
// field, the check's and the goods' alike.
func DecodeFile(req *httpapi.Request) (Filing, error) {
	var in FileRequest
	if err := httpapi.DecodeJSON(req, &in); err != nil {
		return Filing{}, err
	}
	bad := map[string]string{}
	q, err := clearance.Parse(clearance.Input{Code: in.Code, Name: in.Name, Phone: in.Phone, Zip: in.Zip})
	if err != nil {
		e := apperr.As(err)
		if e.Code != apperr.Invalid {
			return Filing{}, err
		}
		for k, v := range e.Fields {
			bad[k] = v
		}
	}
	g := declaration.Fields(declaration.Input{Waybill: in.Waybill, Items: in.Items, Value: in.Value, Currency: in.Currency}, bad)
	if len(bad) > 0 {
		return Filing{}, apperr.InvalidFields(bad)
	}
	return Filing{Query: q, Goods: g}, nil
}

// View is a declaration as the API answers it.
type View struct {
	ID       string             `json:"id"`
	Status   declaration.Status `json:"status"`
	Code     string             `json:"code"`
	FiledBy  string             `json:"filedBy"`
	Waybill  string             `json:"waybill"`
	Items    []declaration.Item `json:"items"`
	Value    string             `json:"value"`
	Currency string             `json:"currency"`
	FiledAt  time.Time          `json:"filedAt"`
	// ConfirmBy is the deadline, for one that waited for the holder.
	ConfirmBy *time.Time `json:"confirmBy,omitempty"`
	DecidedAt *time.Time `json:"decidedAt,omitempty"`
	// CheckID is the clearance check the filing passed; the broker's view only.
	CheckID string `json:"checkId,omitempty"`
}

// List is the holder's list.
type List struct {
	Declarations []View `json:"declarations"`
}

// SettingRequest is the body of PUT /v1/codes/me/confirmation.
type SettingRequest struct {
	Required *bool `json:"required"`
}

// Setting is the holder's confirmation setting: what they chose, and
// whether their declarations wait for them (also when the policy makes
// everyone confirm).
type Setting struct {
	Required  bool `json:"required"`
	Effective bool `json:"effective"`
}

func viewOf(d declaration.Declaration, now time.Time, broker bool) View {
	d = d.AsOf(now)
	v := View{ID: d.ID, Status: d.Status, Code: d.Code, FiledBy: d.FiledBy, Waybill: d.Goods.Waybill, Items: d.Goods.Items,
		Value: d.Goods.Value, Currency: d.Goods.Currency, FiledAt: d.FiledAt.UTC()}
	if v.Items == nil {
		v.Items = []declaration.Item{}
	}
	if !d.ConfirmBy.IsZero() {
		t := d.ConfirmBy.UTC()
		v.ConfirmBy = &t
	}
	if !d.DecidedAt.IsZero() {
		t := d.DecidedAt.UTC()
		v.DecidedAt = &t
	}
	if broker {
		v.CheckID = d.CheckID
	}
	return v
}

// Store keeps declarations (dynamo.DeclarationStore).
type Store interface {
	File(ctx context.Context, d declaration.Declaration) error
	Declaration(ctx context.Context, id string) (declaration.Declaration, error)
	Decide(ctx context.Context, d declaration.Declaration, outcome declaration.Status, now time.Time) error
	Of(ctx context.Context, hk string, limit int) ([]declaration.Declaration, error)
	ConfirmationRequired(ctx context.Context, hk string) (bool, error)
	SetConfirmation(ctx context.Context, hk string, required bool, at time.Time) error
}

var _ Store = (*dynamo.DeclarationStore)(nil)

// Service carries out the declaration routes.
type Service struct {
	Checker *clearanceapi.Checker // the broker's function only
	Store   Store
	// Queue takes the suspension a denial queues when the policy says
	// so (the command queue); the holder's function only.
	Queue  lifecycle.Queue
	Policy declaration.Policy
	Notify declaration.Notifier // nil: nobody is told
	Log    *slog.Logger
	Now    func() time.Time
}

// File serves POST /v1/declarations for a caller whose key authenticated:
// the key's limit, the body, then the check. A mismatch is answered as the
// clearance check answers it (200, result and check id) and records
// nothing else; a match records the declaration, pending or accepted, and
// answers 201 with it.
func (s *Service) File() apikey.CallerEndpoint {
	return func(ctx context.Context, req *httpapi.Request, caller apikey.Record) (*httpapi.Response, error) {
		if err := s.Checker.AdmitKey(ctx, caller); err != nil {
			return nil, err
		}
		f, err := DecodeFile(req)
		if err != nil {
			return nil, err
		}
		o, err := s.Checker.Judge(ctx, caller, f.Query)
		if err != nil {
			return nil, err
		}
		if o.Result != clearance.Match || o.HolderKey == "" {
			return httpapi.JSON(http.StatusOK, clearanceapi.CheckResponse{Result: clearance.Mismatch, CheckID: o.CheckID}), nil
		}
		wants, err := s.Store.ConfirmationRequired(ctx, o.HolderKey)
		if err != nil {
			return nil, err
		}
		id, err := newID()
		if err != nil {
			return nil, err
		}
		now := s.Now()
		d := declaration.New(s.Policy, wants, declaration.Declaration{
			ID: id, HolderKey: o.HolderKey, KeyID: caller.ID, FiledBy: caller.Owner, CheckID: o.CheckID,
			Code: f.Query.Code, Goods: f.Goods,
		}, now)
		if err := s.Store.File(ctx, d); err != nil {
			return nil, err
		}
		// The holder hears of every declaration in their name, whether it
		// waits for them or was accepted at once.
		if s.Notify != nil {
			if err := s.Notify.DeclarationFiled(ctx, d.HolderKey, o.Phone, d.ID, d.Status == declaration.Pending); err != nil {
				s.Log.WarnContext(ctx, "declaration notification failed", "declarationId", d.ID, "err", err.Error())
			}
		}
		// Ids and the key's public id only: no code, name, phone or zip.
		s.Log.InfoContext(ctx, "declaration filed", "declarationId", d.ID, "checkId", o.CheckID, "keyId", caller.ID, "status", string(d.Status))
		return httpapi.JSON(http.StatusCreated, viewOf(d, now, true)), nil
	}
}

// Get serves GET /v1/declarations/{id} for the key that filed it; any
// other key, like an unknown id, gets 404.
func (s *Service) Get() apikey.CallerEndpoint {
	return func(ctx context.Context, req *httpapi.Request, caller apikey.Record) (*httpapi.Response, error) {
		d, err := s.read(ctx, req.PathParam("id"))
		if err != nil {
			return nil, err
		}
		if d.KeyID != caller.ID {
			return nil, declaration.ErrNotFound
		}
		return httpapi.JSON(http.StatusOK, viewOf(d, s.Now(), true)), nil
	}
}

// read reads a declaration by a path id; a malformed or unknown id is 404.
func (s *Service) read(ctx context.Context, id string) (declaration.Declaration, error) {
	if !validID(id) {
		return declaration.Declaration{}, declaration.ErrNotFound
	}
	d, err := s.Store.Declaration(ctx, id)
	if errors.Is(err, dynamo.ErrNoDeclaration) {
		return declaration.Declaration{}, declaration.ErrNotFound
	}
	return d, err
}

// List serves GET /v1/declarations[?status=pending|accepted|denied|expired]:
// the holder's own declarations, newest first, as they read now.
func (s *Service) List() session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		want := declaration.Status(req.Event.QueryStringParameters["status"])
		if want != "" && !want.Valid() {
			return nil, apperr.InvalidField("status", "must be one of pending, accepted, denied, expired")
		}
		ds, err := s.Store.Of(ctx, c.HolderKey, ListLimit)
		if err != nil {
			return nil, err
		}
		now := s.Now()
		out := List{Declarations: []View{}}
		for _, d := range ds {
			if d.HolderKey != c.HolderKey {
				continue // the index is the holder's; this only says so
			}
			if v := viewOf(d, now, false); want == "" || v.Status == want {
				out.Declarations = append(out.Declarations, v)
			}
		}
		return httpapi.JSON(http.StatusOK, out), nil
	}
}

// Act serves confirm and deny for the holder the declaration names;
// another holder's id, like an unknown one, gets 404.
func (s *Service) Act(a declaration.Action) session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		if err := decodeEmpty(req); err != nil {
			return nil, err
		}
		id := req.PathParam("id")
		// Twice at most: a lost race is read again, and the second read
		// says why (decided the same way: answered as a replay; otherwise
		// 409).
		for attempt := 0; ; attempt++ {
			d, err := s.read(ctx, id)
			if err != nil {
				return nil, err
			}
			if d.HolderKey != c.HolderKey {
				return nil, declaration.ErrNotFound
			}
			now := s.Now()
			replay, err := declaration.Decide(d, a, now)
			if err != nil {
				return nil, err
			}
			if !replay {
				err = s.Store.Decide(ctx, d, a.Outcome(), now)
				if errors.Is(err, declaration.ErrConflict) && attempt == 0 {
					continue
				}
				if errors.Is(err, declaration.ErrConflict) {
					return nil, declaration.ErrDecided
				}
				if err != nil {
					return nil, err
				}
				d.Status, d.DecidedAt = a.Outcome(), now.UTC()
				s.Log.InfoContext(ctx, "declaration decided", "declarationId", d.ID, "status", string(d.Status))
			}
			if a == declaration.Deny {
				if err := s.suspend(ctx, d, now); err != nil {
					return nil, err
				}
			}
			return httpapi.JSON(http.StatusOK, viewOf(d, now, false)), nil
		}
	}
}

// suspend queues, when the policy says so, the authority's suspension of
// the code a denied declaration named. The request id is the
// declaration's, so a denial sent again queues the same request and the
// worker carries it out once. A send that fails is a 503: the denial
// stands, and sending it again queues the suspension.
func (s *Service) suspend(ctx context.Context, d declaration.Declaration, now time.Time) error {
	if !s.Policy.DenialSuspends {
		return nil
	}
	m := lifecycle.Message{V: lifecycle.MessageVersion, RequestID: "decl-" + d.ID, Kind: holder.Suspend, Actor: holder.ByAuthority,
		HolderKey: d.HolderKey, Reason: "misuse_suspected", QueuedAt: now.UTC()}
	if err := s.Queue.Send(ctx, m); err != nil {
		return apperr.Wrap(err, apperr.Overloaded, "The denial is recorded, but the service is busy. Please send it again shortly.").WithRetryAfter(5 * time.Second)
	}
	s.Log.InfoContext(ctx, "suspension queued for a denied declaration", "declarationId", d.ID, "requestId", m.RequestID)
	return nil
}

// GetSetting serves GET /v1/codes/me/confirmation.
func (s *Service) GetSetting() session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		on, err := s.Store.ConfirmationRequired(ctx, c.HolderKey)
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, Setting{Required: on, Effective: s.Policy.MustConfirm(on)}), nil
	}
}

// DecodeSetting decodes and validates PUT /v1/codes/me/confirmation.
func DecodeSetting(req *httpapi.Request) (bool, error) {
	var in SettingRequest
	if err := httpapi.DecodeJSON(req, &in); err != nil {
		return false, err
	}
	if in.Required == nil {
		return false, apperr.InvalidField("required", "is required")
	}
	return *in.Required, nil
}

// SetSetting serves PUT /v1/codes/me/confirmation: from now on,
// declarations filed for the holder wait (or not) for their confirmation.
func (s *Service) SetSetting() session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		on, err := DecodeSetting(req)
		if err != nil {
			return nil, err
		}
		if err := s.Store.SetConfirmation(ctx, c.HolderKey, on, s.Now()); err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, Setting{Required: on, Effective: s.Policy.MustConfirm(on)}), nil
	}
}

// decodeEmpty accepts no body or {}.
func decodeEmpty(req *httpapi.Request) error {
	b, err := httpapi.Body(req)
	if err != nil || len(b) == 0 {
		return err
	}
	var in struct{}
	return httpapi.DecodeJSON(req, &in)
}

// DecodeEmpty is decodeEmpty, for the document's tests.
func DecodeEmpty(req *httpapi.Request) error { return decodeEmpty(req) }

// newID returns 128 random bits, URL-safe: 22 characters.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("declaration id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// validID reports whether s has the shape of a declaration id.
func validID(s string) bool {
	if len(s) != 22 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}
