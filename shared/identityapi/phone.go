package identityapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/carrier"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/keyhash"
	"github.com/pccc/pccc/shared/otp"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/sealer"
	"github.com/pccc/pccc/shared/session"
	"github.com/pccc/pccc/shared/sms"
)

// Route keys of the SMS step (API.md steps 2 and 3).
const (
	RouteSendCode    = "POST /v1/verifications/{id}/sms"
	RouteConfirmCode = "POST /v1/verifications/{id}/confirm"
)

// SendCodeRequest is the body of POST /v1/verifications/{id}/sms.
type SendCodeRequest struct {
	Carrier   *string `json:"carrier"`
	Phone     *string `json:"phone"`
	BirthDate *string `json:"birthDate"`
	Sex       *string `json:"sex"`
}

// ConfirmRequest is the body of POST /v1/verifications/{id}/confirm.
type ConfirmRequest struct {
	OTP *string `json:"otp"`
}

// PhoneSteps is what the endpoints need of identity.PhoneStep.
type PhoneSteps interface {
	Send(ctx context.Context, in identity.SendInput) (identity.SendResult, error)
	Confirm(ctx context.Context, id, code string) (identity.ConfirmResult, error)
}

// required names every nil field of a decoded body.
func required(fields map[string]*string) error {
	missing := map[string]string{}
	for name, v := range fields {
		if v == nil {
			missing[name] = "is required"
		}
	}
	if len(missing) > 0 {
		return apperr.InvalidFields(missing)
	}
	return nil
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// SendCode serves POST /v1/verifications/{id}/sms.
func SendCode(steps PhoneSteps) httpapi.Endpoint {
	return func(ctx context.Context, req *httpapi.Request) (*httpapi.Response, error) {
		var body SendCodeRequest
		if err := httpapi.DecodeJSON(req, &body); err != nil {
			return nil, err
		}
		if err := required(map[string]*string{"carrier": body.Carrier, "phone": body.Phone, "birthDate": body.BirthDate, "sex": body.Sex}); err != nil {
			return nil, err
		}
		res, err := steps.Send(ctx, identity.SendInput{
			VerificationID: req.PathParam("id"), Carrier: *body.Carrier, Phone: *body.Phone, BirthDate: *body.BirthDate, Sex: *body.Sex,
		})
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusAccepted, map[string]string{
			"sentTo": res.SentTo, "expiresAt": rfc3339(res.ExpiresAt), "resendAfter": rfc3339(res.ResendAfter),
		}), nil
	}
}

// ConfirmCode serves POST /v1/verifications/{id}/confirm.
func ConfirmCode(steps PhoneSteps) httpapi.Endpoint {
	return func(ctx context.Context, req *httpapi.Request) (*httpapi.Response, error) {
		var body ConfirmRequest
		if err := httpapi.DecodeJSON(req, &body); err != nil {
			return nil, err
		}
		if err := required(map[string]*string{"otp": body.OTP}); err != nil {
			return nil, err
		}
		res, err := steps.Confirm(ctx, req.PathParam("id"), *body.OTP)
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, map[string]string{"sessionToken": res.SessionToken, "expiresAt": rfc3339(res.ExpiresAt)}), nil
	}
}

// NewPhoneStep wires identity.PhoneStep from a function's dependencies.
// OUTBOX_QUEUE_URL names the SMS outbox (only the send function needs it).
func NewPhoneStep(d platform.Deps) (*identity.PhoneStep, error) {
	cfg := d.Config
	now := d.Now
	if now == nil {
		now = time.Now
	}
	hasher, err := keyhash.New(cfg.HMACKey)
	if err != nil {
		return nil, err
	}
	seal, err := sealer.New(cfg.DataKeys, cfg.DataKeyID)
	if err != nil {
		return nil, err
	}
	sessions, err := session.New(cfg.SessionKeys, cfg.SessionKeyID, cfg.SessionTTL, now)
	if err != nil {
		return nil, err
	}
	cc, err := carrier.New(carrier.Options{BaseURL: cfg.CarrierURL, HTTP: d.HTTP, Timeout: cfg.CarrierTimeout, Attempts: cfg.CarrierAttempts})
	if err != nil {
		return nil, err
	}
	policy := otp.DefaultPolicy()
	policy.CodeTTL = cfg.OTPTTL
	policy.MaxAttemptsPerCode = cfg.OTPMaxAttempts
	policy.PersonLockAfter = cfg.OTPPersonLockAfter
	policy.ResendCooldown = cfg.OTPResendCooldown
	policy.MaxSendsPerPhonePerDay = cfg.OTPSendsPerPhoneDay
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	return &identity.PhoneStep{
		Store:    dynamo.NewVerificationStore(d.AWS.DynamoDB, cfg.TableName, now),
		Carrier:  cc,
		Limiter:  dynamo.NewLimiter(d.AWS.DynamoDB, cfg.TableName, now),
		Hasher:   hasher,
		Sealer:   seal,
		Outbox:   &sms.Outbox{SQS: d.AWS.SQS, QueueURL: d.Getenv("OUTBOX_QUEUE_URL")},
		Sessions: sessions,
		Policy:   policy,
		Now:      now,
	}, nil
}

// BuildSendCode builds the function behind POST /v1/verifications/{id}/sms.
func BuildSendCode(ctx context.Context, d platform.Deps) (any, error) {
	if d.Getenv("OUTBOX_QUEUE_URL") == "" {
		return nil, errors.New("OUTBOX_QUEUE_URL is required")
	}
	steps, err := NewPhoneStep(d)
	if err != nil {
		return nil, fmt.Errorf("sms step: %w", err)
	}
	return httpapi.Handler(d.Log, httpapi.Routes{RouteSendCode: SendCode(steps)}), nil
}

// BuildConfirmCode builds the function behind POST /v1/verifications/{id}/confirm.
func BuildConfirmCode(ctx context.Context, d platform.Deps) (any, error) {
	steps, err := NewPhoneStep(d)
	if err != nil {
		return nil, fmt.Errorf("confirm step: %w", err)
	}
	return httpapi.Handler(d.Log, httpapi.Routes{RouteConfirmCode: ConfirmCode(steps)}), nil
}
