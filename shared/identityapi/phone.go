package identityapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/pccc/pccc/shared/admission"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/carrier"
	"github.com/pccc/pccc/shared/config"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/otp"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/session"
	"github.com/pccc/pccc/shared/sms"
	"github.com/pccc/pccc/shared/sqsqueue"
)

// Route keys of the SMS step (API.md steps 2 and 3).
const (
	RouteSendCode    = "POST /v1/verifications/{id}/sms"
	RouteConfirmCode = "POST /v1/verifications/{id}/confirm"
	// RouteRefreshSession extends a holder session (a new token, capped
	// at SESSION_MAX_AGE from the verification). It lives in the confirm
	// function, the one that mints tokens.
	RouteRefreshSession = "POST /v1/sessions/refresh"
)

// SendCodeRequest is the body of POST /v1/verifications/{id}/sms.
type SendCodeRequest struct {
	Carrier   *string `json:"carrier"`
	Phone     *string `json:"phone"`
	BirthDate *string `json:"birthDate"`
	Sex       *string `json:"sex"`
	// Language is the code SMS's, optional: "ko" (default) or "en".
	Language *string `json:"language"`
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
		in := identity.SendInput{
			VerificationID: req.PathParam("id"), Carrier: *body.Carrier, Phone: *body.Phone, BirthDate: *body.BirthDate, Sex: *body.Sex,
			ClientIP: req.SourceIP,
		}
		if body.Language != nil {
			in.Language = *body.Language
			if in.Language == "" {
				in.Language = "-" // present but empty: refused as any other wrong value
			}
		}
		res, err := steps.Send(ctx, in)
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

// RefreshSession serves POST /v1/sessions/refresh: the holder's valid Bearer
// token buys a new one for the same holder, never past the session's cap.
// A missing, expired or forged token, or a session at its cap, is 401.
func RefreshSession(iss *session.Issuer) httpapi.Endpoint {
	return session.RequireHolder(iss, func(ctx context.Context, req *httpapi.Request, c session.Claims) (*httpapi.Response, error) {
		token, exp, err := iss.Refresh(c)
		if err != nil {
			return nil, err
		}
		return httpapi.JSON(http.StatusOK, map[string]string{"sessionToken": token, "expiresAt": rfc3339(exp)}), nil
	})
}

// NewSessions builds the session issuer from the configuration, with its cap.
func NewSessions(cfg config.Config, now func() time.Time) (*session.Issuer, error) {
	iss, err := cfg.Keys.Session(cfg.SessionTTL, now)
	if err != nil {
		return nil, err
	}
	if err := iss.SetMaxAge(cfg.SessionMaxAge); err != nil {
		return nil, err
	}
	return iss, nil
}

// NewPhoneStep wires identity.PhoneStep from a function's dependencies.
// CODE_QUEUE_URL names the code queue (only the send function needs it):
// the codes go there, and its backlog at the provider's rate (SMS_RATE)
// is the wait admission holds under SMS_ADMIT_MAX_WAIT.
func NewPhoneStep(d platform.Deps) (*identity.PhoneStep, error) {
	cfg := d.Config
	now := d.Now
	if now == nil {
		now = time.Now
	}
	hasher, err := cfg.Keys.Hasher()
	if err != nil {
		return nil, err
	}
	seal, err := cfg.Keys.Sealer()
	if err != nil {
		return nil, err
	}
	sessions, err := NewSessions(cfg, now)
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
	policy.MaxPhoneFailures = cfg.OTPPhoneFailsPerVerification
	policy.PhoneFailuresPerDay = cfg.OTPPhoneFailsPerPersonDay
	policy.PhoneFailuresPerAddress = cfg.OTPPhoneFailsPerAddressHour
	if err := policy.Validate(); err != nil {
		return nil, err
	}
	var gate identity.Admission
	if url := d.Getenv("CODE_QUEUE_URL"); url != "" && d.AWS.SQS != nil {
		gate = &admission.Gate{
			Depth:     &sqsqueue.Depth{SQS: d.AWS.SQS, QueueURL: url},
			DrainRate: float64(cfg.SMSRate), MaxWait: cfg.SMSAdmitMaxWait, Now: now,
			// The commands' bound on the accept path's own latency
			// (ADMIT_MAX_LATENCY): when the table is too slow for the
			// starts offered, the excess is refused at once rather than
			// every start timing out.
			MaxLatency: cfg.AdmitMaxLatency,
		}
	}
	return &identity.PhoneStep{
		Store:     dynamo.NewVerificationStore(d.AWS.DynamoDB, cfg.TableName, now),
		Carrier:   cc,
		Limiter:   dynamo.NewLimiter(d.AWS.DynamoDB, cfg.TableName, now),
		Hasher:    hasher,
		Sealer:    seal,
		Outbox:    &sms.Outbox{Queue: &sqsqueue.Queue{SQS: d.AWS.SQS, QueueURL: d.Getenv("CODE_QUEUE_URL")}},
		Sessions:  sessions,
		Policy:    policy,
		Now:       now,
		Admission: gate,
	}, nil
}

// BuildSendCode builds the function behind POST /v1/verifications/{id}/sms.
func BuildSendCode(ctx context.Context, d platform.Deps) (any, error) {
	if d.Getenv("CODE_QUEUE_URL") == "" {
		return nil, errors.New("CODE_QUEUE_URL (the SMS code queue) is required")
	}
	steps, err := NewPhoneStep(d)
	if err != nil {
		return nil, fmt.Errorf("sms step: %w", err)
	}
	return httpapi.Handler(d.Log, httpapi.Routes{RouteSendCode: SendCode(steps)}), nil
}

// BuildConfirmCode builds the function behind POST /v1/verifications/{id}/confirm
// and POST /v1/sessions/refresh.
func BuildConfirmCode(ctx context.Context, d platform.Deps) (any, error) {
	steps, err := NewPhoneStep(d)
	if err != nil {
		return nil, fmt.Errorf("confirm step: %w", err)
	}
	sessions, err := NewSessions(d.Config, steps.Now)
	if err != nil {
		return nil, fmt.Errorf("confirm step: %w", err)
	}
	return httpapi.Handler(d.Log, httpapi.Routes{
		RouteConfirmCode:    ConfirmCode(steps),
		RouteRefreshSession: RefreshSession(sessions),
	}), nil
}
