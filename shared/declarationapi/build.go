package declarationapi

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/clearanceapi"
	"github.com/pccc/pccc/shared/declaration"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/idempotency"
	"github.com/pccc/pccc/shared/lifecycle"
	"github.com/pccc/pccc/shared/notify"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/session"
	"github.com/pccc/pccc/shared/sms"
	"github.com/pccc/pccc/shared/sqsqueue"
)

// policy reads the declaration policy; a bad setting fails the cold start.
func policy(d platform.Deps) (declaration.Policy, error) {
	p, err := declaration.PolicyFrom(d.Getenv)
	if err != nil {
		return declaration.Policy{}, fmt.Errorf("declarations: %w", err)
	}
	return p, nil
}

func clock(d platform.Deps) func() time.Time {
	if d.Now != nil {
		return d.Now
	}
	return time.Now
}

// BuildBroker builds the brokers' function: POST /v1/declarations and
// GET /v1/declarations/{id}, behind the API key. It reads the clearance
// check's settings (CLEARANCE_CHECKS_PER_CODE_PER_HOUR) and the
// declaration policy (DECLARATION_CONFIRMATION, DECLARATION_CONFIRM_WITHIN).
func BuildBroker(ctx context.Context, d platform.Deps) (any, error) {
	p, err := policy(d)
	if err != nil {
		return nil, err
	}
	checker, keys, err := clearanceapi.CheckerFor(d)
	if err != nil {
		return nil, err
	}
	// CheckerFor has already required NOTICE_QUEUE_URL and the SQS client.
	svc := &Service{
		Checker: checker, Store: dynamo.NewDeclarationStore(d.AWS.DynamoDB, d.Config.TableName),
		Policy: p, Log: d.Log, Now: clock(d),
		Notify: &notify.Notifier{Outbox: &sms.Outbox{Queue: &sqsqueue.Queue{SQS: d.AWS.SQS, QueueURL: d.Getenv("NOTICE_QUEUE_URL")}}, Site: d.Config.PublicSiteURL},
	}
	// A filing sent again with its Idempotency-Key (a lost answer) gets
	// the first answer, not a second declaration.
	guard := &idempotency.Guard{Store: dynamo.NewIdempotencyStore(d.AWS.DynamoDB, d.Config.TableName), Now: clock(d), Log: d.Log}
	return httpapi.Handler(d.Log, httpapi.Routes{
		RouteFile: apikey.Require(keys, guard.Caller(svc.File())),
		RouteGet:  apikey.Require(keys, svc.Get()),
	}), nil
}

// BuildHolder builds the holders' function: their declarations, confirm,
// deny and the confirmation setting, behind the session token. With
// DECLARATION_DENIAL_SUSPENDS on it needs COMMAND_QUEUE_URL.
func BuildHolder(ctx context.Context, d platform.Deps) (any, error) {
	if d.Log == nil || d.AWS == nil || d.AWS.DynamoDB == nil {
		return nil, errors.New("declarations: logger and DynamoDB client are required")
	}
	p, err := policy(d)
	if err != nil {
		return nil, err
	}
	now := clock(d)
	cfg := d.Config
	iss, err := cfg.Keys.Session(cfg.SessionTTL, now)
	if err != nil {
		return nil, fmt.Errorf("declarations: %w", err)
	}
	svc := &Service{Store: dynamo.NewDeclarationStore(d.AWS.DynamoDB, cfg.TableName), Policy: p, Log: d.Log, Now: now}
	if p.DenialSuspends {
		url := d.Getenv("COMMAND_QUEUE_URL")
		if url == "" || d.AWS.SQS == nil {
			return nil, errors.New("declarations: DECLARATION_DENIAL_SUSPENDS needs COMMAND_QUEUE_URL and an SQS client")
		}
		svc.Queue = &sqsqueue.Sender[lifecycle.Message]{SQS: d.AWS.SQS, QueueURL: url, What: "command"}
	}
	holder := func(ep session.HolderEndpoint) httpapi.Endpoint { return session.RequireHolder(iss, ep) }
	return httpapi.Handler(d.Log, httpapi.Routes{
		RouteList:       holder(svc.List()),
		RouteConfirm:    holder(svc.Act(declaration.Confirm)),
		RouteDeny:       holder(svc.Act(declaration.Deny)),
		RouteSetting:    holder(svc.GetSetting()),
		RouteSetSetting: holder(svc.SetSetting()),
	}), nil
}
