package codeapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pccc/pccc/shared/admission"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/lifecycle"
	"github.com/pccc/pccc/shared/notify"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/sealer"
	"github.com/pccc/pccc/shared/session"
	"github.com/pccc/pccc/shared/sms"
	"github.com/pccc/pccc/shared/sqsqueue"
)

// Policy is the code policy from the configuration.
func Policy(d platform.Deps) holder.Policy {
	c := d.Config
	return holder.Policy{
		ReissuesPerYear: c.ReissuesPerYear,
		ValidityMonths:  c.CodeValidityMonth,
		RenewalWindow:   time.Duration(c.RenewalWindowDays) * 24 * time.Hour,
	}
}

// parts are what the API functions share, built once per cold start.
type parts struct {
	d        platform.Deps
	now      func() time.Time
	sessions *session.Issuer
	sealer   *sealer.Sealer
	codes    *dynamo.CodeStore
	requests *dynamo.RequestStore
	gate     *admission.Gate // command functions only
}

// newParts builds what the holder functions share; sealed says whether the
// function opens or seals personal fields (and so is given the data keys).
func newParts(d platform.Deps, sealed bool) (*parts, error) {
	if d.Log == nil || d.AWS == nil || d.AWS.DynamoDB == nil {
		return nil, errors.New("codes: logger and DynamoDB client are required")
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	cfg := d.Config
	iss, err := cfg.Keys.Session(cfg.SessionTTL, now)
	if err != nil {
		return nil, fmt.Errorf("codes: %w", err)
	}
	var seal *sealer.Sealer
	if sealed {
		if seal, err = cfg.Keys.Sealer(); err != nil {
			return nil, fmt.Errorf("codes: %w", err)
		}
	}
	db := d.AWS.DynamoDB
	return &parts{
		d: d, now: now, sessions: iss, sealer: seal,
		codes:    dynamo.NewCodeStore(db, cfg.TableName, dynamo.NewStats(db, cfg.TableName)),
		requests: dynamo.NewRequestStore(db, cfg.TableName),
	}, nil
}

// command wraps a command endpoint: the session first, then admission
// (before the key's claim, so a shed command costs no write). The key is
// the command's own (lifecycle.Service.Submit).
func (p *parts) command(ep session.HolderEndpoint) httpapi.Endpoint {
	return session.RequireHolder(p.sessions, Admitted(p.gate, ep))
}

// Admitted asks the gate before anything else is done for a command; the
// position in line it gives rides on the context to the request record,
// and the time an admitted command took feeds the gate's latency bound.
func Admitted(g *admission.Gate, next session.HolderEndpoint) session.HolderEndpoint {
	return func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		pos, err := g.Admit(ctx)
		if err != nil {
			return nil, err
		}
		started := time.Now()
		resp, err := next(admission.WithPosition(ctx, pos), req, c)
		if err == nil {
			g.Observe(time.Since(started))
		}
		return resp, err
	}
}

func (p *parts) service() (*lifecycle.Service, error) {
	url := p.d.Getenv("COMMAND_QUEUE_URL")
	if url == "" || p.d.AWS.SQS == nil {
		return nil, errors.New("codes: COMMAND_QUEUE_URL and an SQS client are required")
	}
	cfg := p.d.Config
	p.gate = &admission.Gate{
		Depth:     &sqsqueue.Depth{SQS: p.d.AWS.SQS, QueueURL: url},
		DrainRate: float64(cfg.WorkerRate), MaxWait: cfg.AdmitMaxWait, MaxLatency: cfg.AdmitMaxLatency,
		Leases: dynamo.NewLimiter(p.d.AWS.DynamoDB, cfg.TableName, p.now), MaxRate: float64(cfg.AdmitMaxRate),
		Now: p.now,
	}
	return &lifecycle.Service{
		Holders: p.codes, Requests: p.requests, Sealer: p.sealer, Policy: Policy(p.d), Now: p.now, KeyTTL: cfg.IdempotencyTTL,
		Queue: &sqsqueue.Sender[lifecycle.Message]{SQS: p.d.AWS.SQS, QueueURL: url, What: "command"},
	}, nil
}

// commandFunction builds a function serving command routes, each wrapped
// in the session check and the idempotency key.
func commandFunction(d platform.Deps, routes func(*lifecycle.Service) map[string]session.HolderEndpoint) (any, error) {
	p, err := newParts(d, true)
	if err != nil {
		return nil, err
	}
	svc, err := p.service()
	if err != nil {
		return nil, err
	}
	out := httpapi.Routes{}
	for route, ep := range routes(svc) {
		out[route] = p.command(ep)
	}
	return httpapi.Handler(d.Log, out), nil
}

// BuildIssue builds the issue function (POST /v1/codes).
func BuildIssue(ctx context.Context, d platform.Deps) (any, error) {
	return commandFunction(d, func(svc *lifecycle.Service) map[string]session.HolderEndpoint {
		return map[string]session.HolderEndpoint{RouteIssue: Issue(svc)}
	})
}

// BuildReissue builds the reissue function: the surge's route, in its own
// function so its concurrency and throttling can be set apart.
func BuildReissue(ctx context.Context, d platform.Deps) (any, error) {
	return commandFunction(d, func(svc *lifecycle.Service) map[string]session.HolderEndpoint {
		return map[string]session.HolderEndpoint{RouteReissue: Change(svc, holder.Reissue)}
	})
}

// BuildChange builds the function for the other changes of a code:
// suspend, resume, cancel, renew and update.
func BuildChange(ctx context.Context, d platform.Deps) (any, error) {
	return commandFunction(d, func(svc *lifecycle.Service) map[string]session.HolderEndpoint {
		return map[string]session.HolderEndpoint{
			RouteSuspend: Change(svc, holder.Suspend),
			RouteResume:  Change(svc, holder.Resume),
			RouteCancel:  Change(svc, holder.Cancel),
			RouteRenew:   Change(svc, holder.Renew),
			RouteUpdate:  Update(svc),
		}
	})
}

// BuildLookup builds the lookup function (GET /v1/codes/me).
func BuildLookup(ctx context.Context, d platform.Deps) (any, error) {
	p, err := newParts(d, true)
	if err != nil {
		return nil, err
	}
	return httpapi.Handler(d.Log, httpapi.Routes{
		RouteLookup: session.RequireHolder(p.sessions, Lookup(p.codes, p.sealer, Policy(d), p.now)),
	}), nil
}

// BuildRequestStatus builds the request status function.
func BuildRequestStatus(ctx context.Context, d platform.Deps) (any, error) {
	p, err := newParts(d, false)
	if err != nil {
		return nil, err
	}
	return httpapi.Handler(d.Log, httpapi.Routes{
		RouteRequest: session.RequireHolder(p.sessions, RequestStatus(p.requests, float64(d.Config.WorkerRate), p.now)),
	}), nil
}

// BuildWorker builds the command worker behind the command queue.
// COMMAND_MAX_RECEIVES must be the queue's maxReceiveCount.
func BuildWorker(ctx context.Context, d platform.Deps) (any, error) {
	if d.Log == nil || d.AWS == nil || d.AWS.DynamoDB == nil {
		return nil, errors.New("worker: logger and DynamoDB client are required")
	}
	maxReceives, err := strconv.Atoi(d.Getenv("COMMAND_MAX_RECEIVES"))
	if err != nil || maxReceives < 1 {
		return nil, errors.New("worker: COMMAND_MAX_RECEIVES must be the command queue's maxReceiveCount")
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	outbox := d.Getenv("NOTICE_QUEUE_URL")
	if outbox == "" || d.AWS.SQS == nil {
		return nil, errors.New("worker: NOTICE_QUEUE_URL (the SMS notice queue, for the holder's notices) and an SQS client are required")
	}
	db, table := d.AWS.DynamoDB, d.Config.TableName
	requests := dynamo.NewRequestStore(db, table)
	w := &lifecycle.Worker{
		Store:    dynamo.NewCodeStore(db, table, dynamo.NewStats(db, table)),
		Requests: requests, Status: requests,
		Notify: &notify.Notifier{Outbox: &sms.Outbox{Queue: &sqsqueue.Queue{SQS: d.AWS.SQS, QueueURL: outbox}}, Site: d.Config.PublicSiteURL},
		Policy: Policy(d), Now: now, MaxReceives: maxReceives, Log: d.Log,
		NewCode: func() (string, error) { return codes.New(nil) },
	}
	return w.Handle, nil
}

// BuildExpiry builds the daily expiry job. EXPIRY_LOOKBACK_DAYS (default 7)
// is how many past days each run reads again.
func BuildExpiry(ctx context.Context, d platform.Deps) (any, error) {
	if d.Log == nil || d.AWS == nil || d.AWS.DynamoDB == nil || d.AWS.SQS == nil {
		return nil, errors.New("expiry: logger, DynamoDB and SQS clients are required")
	}
	url := d.Getenv("COMMAND_QUEUE_URL")
	if url == "" {
		return nil, errors.New("expiry: COMMAND_QUEUE_URL is required")
	}
	lookback := 7
	if v := d.Getenv("EXPIRY_LOOKBACK_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 60 {
			return nil, errors.New("expiry: EXPIRY_LOOKBACK_DAYS must be 1-60")
		}
		lookback = n
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	db, table := d.AWS.DynamoDB, d.Config.TableName
	e := &lifecycle.Expirer{
		Index: dynamo.NewCodeStore(db, table, dynamo.NewStats(db, table)),
		Queue: &sqsqueue.Sender[lifecycle.Message]{SQS: d.AWS.SQS, QueueURL: url, What: "command"},
		Now:   now, Lookback: lookback, Log: d.Log,
	}
	return e.Handle, nil
}
