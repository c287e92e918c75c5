// Package identityapi serves the identity-verification routes of API.md and
// builds the functions that serve them. Today: the real-name check,
// POST /v1/verifications (step 1).
//
// It is the seam between HTTP and the domain: decoding and presence checks
// here, every rule in shared/identity, the wiring of adapters in
// BuildRealName.
package identityapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/bureau"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/notify"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/resilience"
	"github.com/pccc/pccc/shared/sms"
	"github.com/pccc/pccc/shared/sqsqueue"
)

// RouteStartVerification is the real-name check's route key.
const RouteStartVerification = "POST /v1/verifications"

// VerificationRequest is the body of POST /v1/verifications. Pointers tell
// a missing (or null) field from an empty one.
type VerificationRequest struct {
	Name *string `json:"name"`
	RRN  *string `json:"rrn"`
}

// VerificationResponse is its 201 answer.
type VerificationResponse struct {
	VerificationID string `json:"verificationId"`
	ExpiresAt      string `json:"expiresAt"` // RFC 3339, UTC
	NextStep       string `json:"nextStep"`
}

// Starter opens verifications (*identity.Service).
type Starter interface {
	Start(ctx context.Context, in identity.StartInput) (identity.Verification, error)
}

// DecodeVerificationRequest decodes and presence-checks the body; the
// content of each field is the domain's to judge.
func DecodeVerificationRequest(req *httpapi.Request) (VerificationRequest, error) {
	var body VerificationRequest
	if err := httpapi.DecodeJSON(req, &body); err != nil {
		return VerificationRequest{}, err
	}
	missing := map[string]string{}
	if body.Name == nil {
		missing["name"] = "is required"
	}
	if body.RRN == nil {
		missing["rrn"] = "is required"
	}
	if len(missing) > 0 {
		return VerificationRequest{}, apperr.InvalidFields(missing)
	}
	return body, nil
}

// StartVerification serves POST /v1/verifications.
func StartVerification(svc Starter) httpapi.Endpoint {
	return func(ctx context.Context, req *httpapi.Request) (*httpapi.Response, error) {
		body, err := DecodeVerificationRequest(req)
		if err != nil {
			return nil, err
		}
		v, err := svc.Start(ctx, identity.StartInput{Name: *body.Name, RRN: *body.RRN, ClientIP: req.SourceIP})
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusCreated, VerificationResponse{
			VerificationID: v.ID,
			ExpiresAt:      v.ExpiresAt.UTC().Format(time.RFC3339),
			NextStep:       string(v.Step),
		}), nil
	}
}

// Bureau breaker policy: five failed checks in a row (each already retried)
// mean the bureau is down; refuse for ten seconds, then try one call.
const (
	bureauBreakerThreshold = 5
	bureauBreakerCooldown  = 10 * time.Second
)

// BuildRealName builds the real-name check function: the identity service
// on the DynamoDB store and throttle and the bureau client, behind the HTTP
// API handler.
func BuildRealName(ctx context.Context, d platform.Deps) (any, error) {
	if d.Log == nil {
		return nil, errors.New("realname: no logger")
	}
	svc, err := NewRealNameService(d)
	if err != nil {
		return nil, err
	}
	return httpapi.Handler(d.Log, httpapi.Routes{RouteStartVerification: StartVerification(svc)}), nil
}

// NewRealNameService wires the identity service from the dependencies.
func NewRealNameService(d platform.Deps) (*identity.Service, error) {
	cfg := d.Config
	if d.AWS == nil || d.AWS.DynamoDB == nil {
		return nil, errors.New("realname: no DynamoDB client")
	}
	now := d.Now
	if now == nil {
		now = time.Now
	}
	hasher, err := cfg.Keys.Hasher()
	if err != nil {
		return nil, fmt.Errorf("realname: %w", err)
	}
	seal, err := cfg.Keys.Sealer()
	if err != nil {
		return nil, fmt.Errorf("realname: %w", err)
	}
	br, err := bureau.New(bureau.Options{
		BaseURL: cfg.BureauURL, HTTP: d.HTTP, Timeout: cfg.BureauTimeout, Attempts: cfg.BureauAttempts,
		Breaker: resilience.NewBreaker(bureauBreakerThreshold, bureauBreakerCooldown, nil),
	})
	if err != nil {
		return nil, fmt.Errorf("realname: BUREAU_URL: %w", err)
	}
	outbox := ""
	if d.Getenv != nil {
		outbox = d.Getenv("NOTICE_QUEUE_URL")
	}
	if outbox == "" || d.AWS.SQS == nil {
		return nil, errors.New("realname: NOTICE_QUEUE_URL (the SMS notice queue, for the holder's notice of failed checks) and an SQS client are required")
	}
	return identity.NewService(identity.Options{
		Bureau:  br,
		Store:   dynamo.NewVerificationStore(d.AWS.DynamoDB, cfg.TableName, now),
		Limiter: dynamo.NewLimiter(d.AWS.DynamoDB, cfg.TableName, now),
		Hasher:  hasher,
		Sealer:  seal,
		Watch: &HolderTold{
			Holders: dynamo.NewCodeStore(d.AWS.DynamoDB, cfg.TableName, nil),
			Notify:  &notify.Notifier{Outbox: &sms.Outbox{Queue: &sqsqueue.Queue{SQS: d.AWS.SQS, QueueURL: outbox}}, Site: cfg.PublicSiteURL},
		},
		TTL:             cfg.VerificationTTL,
		IPPerMinute:     cfg.RateIPPerMinute,
		PersonPerHour:   cfg.RatePersonPerHour,
		FailsPerAddress: cfg.RRNFailsPerAddressPerHour,
		FailsPerDay:     cfg.RRNFailsPerDay,
		Now:             now,
	})
}
