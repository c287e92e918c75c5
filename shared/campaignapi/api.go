// Package campaignapi serves the customs authority's campaign routes and
// builds the functions behind them: the API (create, read, confirm, pause,
// resume, cancel), the reader behind the control queue (prepare a list,
// fan it out onto the campaign queue, write the reports) and the workers
// behind the campaign queue. The rules are shared/campaign's and each
// code's change is shared/holder's, applied in the change's own
// transaction (dynamo.CodeStore.Apply) with the campaign's item record.
package campaignapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/campaign"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
)

type (
	dynamoAttr   = types.AttributeValue
	dynamoTxItem = types.TransactWriteItem
)

// Routes, as template.yaml declares them.
const (
	RouteCreate  = "POST /v1/authority/campaigns"
	RouteGet     = "GET /v1/authority/campaigns/{campaignId}"
	RouteConfirm = "POST /v1/authority/campaigns/{campaignId}/confirm"
	RoutePause   = "POST /v1/authority/campaigns/{campaignId}/pause"
	RouteResume  = "POST /v1/authority/campaigns/{campaignId}/resume"
	RouteCancel  = "POST /v1/authority/campaigns/{campaignId}/cancel"
)

// Store is what the API needs of the campaign store.
type Store interface {
	Campaigns
	Create(ctx context.Context, c dynamo.Campaign) error
}

// Presigner hands out the list's upload URL and the reports' download
// URLs (s3.PresignClient).
type Presigner interface {
	PutURL(ctx context.Context, key string, ttl time.Duration) (string, error)
	GetURL(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// API serves the campaign routes.
type API struct {
	Store   Store
	Lists   Lists
	Presign Presigner
	Control Sender
	// MaxRate caps ratePerSecond (the template's CampaignMaxRate).
	MaxRate   int
	PartPrice float64
	Now       func() time.Time
}

// URLTTL is how long a presigned URL works.
const URLTTL = 15 * time.Minute

// Created is the 201 answer to a create.
type Created struct {
	View
	UploadURL       string `json:"uploadUrl,omitempty"`
	UploadExpiresAt string `json:"uploadExpiresAt,omitempty"`
}

// View is a campaign as the routes show it.
type View struct {
	CampaignID    string       `json:"campaignId"`
	Action        string       `json:"action"`
	Reason        string       `json:"reason"`
	RatePerSecond int          `json:"ratePerSecond"`
	DryRun        bool         `json:"dryRun"`
	State         string       `json:"state"`
	StateReason   string       `json:"stateReason,omitempty"`
	CreatedAt     string       `json:"createdAt"`
	StartedAt     string       `json:"startedAt,omitempty"`
	EndedAt       string       `json:"endedAt,omitempty"`
	Totals        TotalsView   `json:"totals"`
	Preview       []string     `json:"preview"`
	SMS           *SMSView     `json:"sms,omitempty"`
	Progress      ProgressView `json:"progress"`
	ReportURL     string       `json:"reportUrl,omitempty"`
	FailedURL     string       `json:"failedUrl,omitempty"`
	StatusURL     string       `json:"statusUrl"`
}

// TotalsView are the figures.
type TotalsView struct {
	Listed    int64       `json:"listed"`
	Invalid   int64       `json:"invalid"`
	Duplicate int64       `json:"duplicate"`
	Valid     int64       `json:"valid"`
	Queued    int64       `json:"queued"`
	Done      int64       `json:"done"`
	Skipped   SkippedView `json:"skipped"`
	Failed    int64       `json:"failed"`
	Processed int64       `json:"processed"`
}

// SkippedView are the skipped items by reason.
type SkippedView struct {
	UnknownCode    int64 `json:"unknown_code"`
	AlreadyRetired int64 `json:"already_retired"`
	WrongState     int64 `json:"wrong_state"`
}

// SMSView is the notices' estimate.
type SMSView struct {
	Notices   int64   `json:"notices"`
	PartsEach int     `json:"partsEach"`
	Parts     int64   `json:"parts"`
	Price     float64 `json:"price"`
	Currency  string  `json:"currency"`
}

// ProgressView is the rate and the estimated end.
type ProgressView struct {
	ItemsPerSecond float64 `json:"itemsPerSecond"`
	EstimatedEnd   string  `json:"estimatedEnd,omitempty"`
}

var (
	errNoCampaign = apperr.New(apperr.NotFound, "No such campaign.")
	errBadID      = apperr.InvalidField("campaignId", "must be a campaign id as returned by the create")
)

func rfc(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// view renders a campaign with its work counters.
func (a *API) view(ctx context.Context, c dynamo.Campaign) (View, error) {
	wk, err := a.Store.Work(ctx, c.ID)
	if err != nil {
		return View{}, err
	}
	t := Totals(c, wk)
	v := View{
		CampaignID: c.ID, Action: c.Action, Reason: c.Reason, RatePerSecond: c.RatePerSecond, DryRun: c.DryRun,
		State: c.State, StateReason: c.StateReason,
		CreatedAt: rfc(c.CreatedAt), StartedAt: rfc(c.StartedAt), EndedAt: rfc(c.EndedAt),
		Totals: TotalsView{
			Listed: t.Listed, Invalid: t.Invalid, Duplicate: t.Duplicate, Valid: t.Valid, Queued: t.Queued,
			Done: t.Done, Failed: t.Failed, Processed: t.Processed(),
			Skipped: SkippedView{UnknownCode: t.SkippedUnknown, AlreadyRetired: t.SkippedRetired, WrongState: t.SkippedWrongState},
		},
		Preview:   c.Preview,
		StatusURL: "/v1/authority/campaigns/" + c.ID,
	}
	if v.Preview == nil {
		v.Preview = []string{}
	}
	if s := campaign.State(c.State); s != campaign.Created && s != campaign.Preparing && c.Valid > 0 {
		parts := int(0)
		if c.Valid > 0 {
			parts = int(c.SMSParts / c.Valid)
		}
		v.SMS = &SMSView{Notices: c.Valid, PartsEach: parts, Parts: c.SMSParts, Price: c.SMSPrice, Currency: "USD"}
	}
	if campaign.State(c.State) == campaign.Active || campaign.State(c.State) == campaign.Paused {
		p := t.Estimate(c.StartedAt, a.Now())
		v.Progress = ProgressView{ItemsPerSecond: float64(int(p.PerSecond*10)) / 10, EstimatedEnd: rfc(p.ETA)}
	} else if !c.EndedAt.IsZero() && !c.StartedAt.IsZero() {
		p := t.Estimate(c.StartedAt, c.EndedAt)
		v.Progress = ProgressView{ItemsPerSecond: float64(int(p.PerSecond*10)) / 10}
	}
	if c.ReportKey != "" {
		if v.ReportURL, err = a.Presign.GetURL(ctx, c.ReportKey, URLTTL); err != nil {
			return View{}, err
		}
		if v.FailedURL, err = a.Presign.GetURL(ctx, c.FailedKey, URLTTL); err != nil {
			return View{}, err
		}
	}
	return v, nil
}

// DecodeCreate decodes and validates the create's body; maxRate caps
// ratePerSecond.
func DecodeCreate(req *httpapi.Request, maxRate int) (campaign.Spec, error) {
	var in campaign.CreateBody
	if err := httpapi.DecodeJSON(req, &in); err != nil {
		return campaign.Spec{}, err
	}
	return campaign.Validate(in, maxRate)
}

// Create serves POST /v1/authority/campaigns.
func (a *API) Create(ctx context.Context, req *httpapi.Request, caller apikey.Record) (*httpapi.Response, error) {
	sp, err := DecodeCreate(req, a.MaxRate)
	if err != nil {
		return nil, err
	}
	id, err := campaign.NewID()
	if err != nil {
		return nil, err
	}
	now := a.Now().UTC()
	c := dynamo.Campaign{
		ID: id, Owner: caller.ID, Action: string(sp.Action), Reason: sp.Reason, RatePerSecond: sp.RatePerSecond,
		DryRun: sp.DryRun, State: string(campaign.Created), ListKey: "campaigns/" + id + "/list.csv",
		Upload: sp.Codes == nil, CreatedAt: now,
	}
	if !c.Upload {
		if err := a.Lists.Put(ctx, c.ListKey, []byte(strings.Join(sp.Codes, "\n")+"\n"), "text/csv; charset=utf-8"); err != nil {
			return nil, err
		}
	}
	if err := a.Store.Create(ctx, c); err != nil {
		return nil, err
	}
	out := Created{}
	if c.Upload {
		if out.UploadURL, err = a.Presign.PutURL(ctx, c.ListKey, URLTTL); err != nil {
			return nil, err
		}
		out.UploadExpiresAt = rfc(now.Add(URLTTL))
	} else if err := sendControl(ctx, a.Control, campaign.OpPrepare, id, 0); err != nil {
		return nil, err
	}
	if out.View, err = a.view(ctx, c); err != nil {
		return nil, err
	}
	resp := httpapi.JSON(http.StatusCreated, out)
	resp.Headers = map[string]string{"Location": out.StatusURL}
	return resp, nil
}

func (a *API) load(ctx context.Context, req *httpapi.Request) (dynamo.Campaign, error) {
	id := req.PathParam("campaignId")
	if !campaign.ValidID(id) {
		return dynamo.Campaign{}, errBadID
	}
	c, err := a.Store.Get(ctx, id)
	if errors.Is(err, dynamo.ErrNoCampaign) {
		return dynamo.Campaign{}, errNoCampaign
	}
	return c, err
}

// Get serves GET /v1/authority/campaigns/{campaignId}.
func (a *API) Get(ctx context.Context, req *httpapi.Request, _ apikey.Record) (*httpapi.Response, error) {
	c, err := a.load(ctx, req)
	if err != nil {
		return nil, err
	}
	v, err := a.view(ctx, c)
	if err != nil {
		return nil, err
	}
	return httpapi.JSON(http.StatusOK, v), nil
}

func wrongState(c dynamo.Campaign, want string) error {
	return apperr.New(apperr.Conflict, "The campaign is "+c.State+"; "+want+".")
}

// step is one state change a route asks for.
type step struct {
	from   []campaign.State
	to     campaign.State
	want   string // what the 409 says the route needs
	set    func(now time.Time) map[string]dynamoAttr
	then   string // the control op to send after it ("" none)
	delay  time.Duration
	before func(c dynamo.Campaign) error
}

func (a *API) change(st step) apikey.CallerEndpoint {
	return func(ctx context.Context, req *httpapi.Request, _ apikey.Record) (*httpapi.Response, error) {
		if err := DecodeEmpty(req); err != nil {
			return nil, err
		}
		c, err := a.load(ctx, req)
		if err != nil {
			return nil, err
		}
		if st.before != nil {
			if err := st.before(c); err != nil {
				return nil, err
			}
		}
		var from []string
		for _, f := range st.from {
			from = append(from, string(f))
		}
		var set map[string]dynamoAttr
		if st.set != nil {
			set = st.set(a.Now())
		}
		err = a.Store.Transition(ctx, c.ID, from, string(st.to), set)
		if errors.Is(err, dynamo.ErrCampaignState) {
			if cur, gerr := a.Store.Get(ctx, c.ID); gerr == nil {
				c = cur
			}
			return nil, wrongState(c, st.want)
		}
		if err != nil {
			return nil, err
		}
		if st.then != "" {
			if err := sendControl(ctx, a.Control, st.then, c.ID, st.delay); err != nil {
				return nil, err
			}
		}
		c, err = a.Store.Get(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		v, err := a.view(ctx, c)
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, v), nil
	}
}

// Confirm serves POST …/confirm: a campaign whose list was uploaded
// (created) goes to be prepared; one awaiting confirmation starts.
func (a *API) Confirm() apikey.CallerEndpoint {
	upload := a.change(step{
		from: []campaign.State{campaign.Created}, to: campaign.Created, then: campaign.OpPrepare,
		want: "it can be confirmed when its uploaded list is there, or when it awaits confirmation",
	})
	start := a.change(step{
		from: []campaign.State{campaign.AwaitingConfirmation}, to: campaign.Active, then: campaign.OpFanOut,
		want: "only a campaign awaiting confirmation can be confirmed",
		set: func(now time.Time) map[string]dynamoAttr {
			return map[string]dynamoAttr{"startedAt": dynamo.TimeAttr(now)}
		},
	})
	return func(ctx context.Context, req *httpapi.Request, caller apikey.Record) (*httpapi.Response, error) {
		c, err := a.load(ctx, req)
		if err != nil {
			return nil, err
		}
		if campaign.State(c.State) == campaign.Created {
			if !c.Upload {
				return nil, wrongState(c, "its list is being read; confirm it once it awaits confirmation")
			}
			return upload(ctx, req, caller)
		}
		return start(ctx, req, caller)
	}
}

// Pause serves POST …/pause.
func (a *API) Pause() apikey.CallerEndpoint {
	return a.change(step{from: []campaign.State{campaign.Active}, to: campaign.Paused, want: "only an active campaign can be paused"})
}

// Resume serves POST …/resume: the reader goes on from its place.
func (a *API) Resume() apikey.CallerEndpoint {
	return a.change(step{from: []campaign.State{campaign.Paused}, to: campaign.Active, then: campaign.OpFanOut, want: "only a paused campaign can be resumed"})
}

// Cancel serves POST …/cancel: nothing more is carried out; the report
// follows a few seconds later, when the items in hand are done.
func (a *API) Cancel() apikey.CallerEndpoint {
	return a.change(step{
		from: []campaign.State{campaign.Created, campaign.Preparing, campaign.AwaitingConfirmation, campaign.Active, campaign.Paused},
		to:   campaign.Cancelled, then: campaign.OpReport, delay: 3 * time.Second,
		want: "it is over already",
		set: func(now time.Time) map[string]dynamoAttr {
			return map[string]dynamoAttr{"endedAt": dynamo.TimeAttr(now)}
		},
	})
}

type emptyBody struct{}

// DecodeEmpty accepts the steering routes' body: nothing, or {}.
func DecodeEmpty(req *httpapi.Request) error {
	b, err := httpapi.Body(req)
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(b)) == "" {
		return nil
	}
	var in emptyBody
	return httpapi.DecodeJSON(req, &in)
}
