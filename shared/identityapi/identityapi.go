// Package identityapi serves the identity-verification routes of API.md:
// today the real-name check, POST /v1/verifications.
package identityapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/pccc/pccc/shared/bureau"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/keyhash"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/sealer"
)

// RouteStart is the real-name check's route key.
const RouteStart = "POST /v1/verifications"

// startRequest is the body of POST /v1/verifications.
type startRequest struct {
	Name *string `json:"name"`
	RRN  *string `json:"rrn"`
}

// startResponse is its 201 answer.
type startResponse struct {
	VerificationID string `json:"verificationId"`
	ExpiresAt      string `json:"expiresAt"`
	NextStep       string `json:"nextStep"`
}

// Starter opens verifications (identity.Service).
type Starter interface {
	Start(ctx context.Context, in identity.StartInput) (identity.Verification, error)
}

// StartVerification serves POST /v1/verifications.
func StartVerification(svc Starter) httpapi.Endpoint {
	return func(ctx context.Context, req *httpapi.Request) (*httpapi.Response, error) {
		var body startRequest
		if err := httpapi.DecodeJSON(req, &body); err != nil {
			return nil, err
		}
		missing := map[string]string{}
		if body.Name == nil {
			missing["name"] = "is required"
		}
		if body.RRN == nil {
			missing["rrn"] = "is required"
		}
		if len(missing) > 0 {
			return nil, invalid(missing)
		}
		v, err := svc.Start(ctx, identity.StartInput{Name: *body.Name, RRN: *body.RRN, ClientIP: req.SourceIP})
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusCreated, startResponse{
			VerificationID: v.ID, ExpiresAt: v.ExpiresAt.UTC().Format(time.RFC3339), NextStep: string(v.Step),
		}), nil
	}
}

// BuildRealName builds the real-name check function from its dependencies.
func BuildRealName(ctx context.Context, d platform.Deps) (any, error) {
	cfg := d.Config
	seal, err := sealer.New(cfg.DataKeys, cfg.DataKeyID)
	if err != nil {
		return nil, fmt.Errorf("data keys: %w", err)
	}
	svc := &identity.Service{
		Bureau: bureau.NewClient(cfg.BureauURL, d.HTTP, cfg.BureauTimeout, cfg.BureauAttempts),
		Store:  &dynamo.VerificationStore{DB: d.AWS.DynamoDB, Table: cfg.TableName, Now: d.Now},
		Limit:  &dynamo.Limiter{DB: d.AWS.DynamoDB, Table: cfg.TableName, Now: d.Now},
		Hash:   keyhash.New(cfg.HMACKey),
		Seal:   seal,
		Limits: identity.Limits{PerIPPerMinute: cfg.RateIPPerMinute, PerPersonPerHour: cfg.RatePersonPerHour},
		TTL:    cfg.VerificationTTL,
		Now:    d.Now,
	}
	return httpapi.Handler(d.Log, httpapi.Routes{RouteStart: StartVerification(svc)}), nil
}
