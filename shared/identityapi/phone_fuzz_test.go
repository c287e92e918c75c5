package identityapi

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/logging"
	"github.com/pccc/pccc/shared/otp"
)

// acceptingSteps is a PhoneSteps that runs the real field parsers and then
// succeeds, so the fuzzers reach every branch of decoding and validation.
type acceptingSteps struct{}

func (acceptingSteps) Send(_ context.Context, in identity.SendInput) (identity.SendResult, error) {
	if _, err := otp.ParsePhone(in.Phone); err != nil {
		return identity.SendResult{}, err
	}
	if _, err := otp.ParseCarrier(in.Carrier); err != nil {
		return identity.SendResult{}, err
	}
	if _, err := otp.ParseBirthDate(in.BirthDate); err != nil {
		return identity.SendResult{}, err
	}
	if _, err := otp.ParseSex(in.Sex); err != nil {
		return identity.SendResult{}, err
	}
	return identity.SendResult{SentTo: "010-****-0000", ExpiresAt: time.Now(), ResendAfter: time.Now()}, nil
}

func (acceptingSteps) Confirm(context.Context, string, string) (identity.ConfirmResult, error) {
	return identity.ConfirmResult{SessionToken: "t", ExpiresAt: time.Now()}, nil
}

func fuzzPhoneRoute(f *testing.F, route string, seeds []string) {
	for _, s := range seeds {
		f.Add(s)
	}
	h := httpapi.Handler(logging.New(io.Discard, "info"), httpapi.Routes{
		RouteSendCode: SendCode(acceptingSteps{}), RouteConfirmCode: ConfirmCode(acceptingSteps{}),
	})
	f.Fuzz(func(t *testing.T, body string) {
		ev := events.APIGatewayV2HTTPRequest{RouteKey: route, Body: body,
			Headers: map[string]string{"content-type": "application/json"}, PathParameters: map[string]string{"id": "v"}}
		resp, err := h(context.Background(), ev)
		if err != nil || resp.StatusCode >= 500 || resp.StatusCode < 200 {
			t.Fatalf("body %q got %d %v: %s", body, resp.StatusCode, err, resp.Body)
		}
		if resp.StatusCode == 400 {
			var e struct {
				Error struct{ Fields map[string]string } `json:"error"`
			}
			if json.Unmarshal([]byte(resp.Body), &e) != nil || len(e.Error.Fields) == 0 {
				t.Fatalf("a 400 that names no field: %s", resp.Body)
			}
		}
	})
}

// FuzzSendCodeBody: any body of POST /v1/verifications/{id}/sms gets a 2xx
// or a 400 naming a field, never a 5xx or a panic.
func FuzzSendCodeBody(f *testing.F) {
	fuzzPhoneRoute(f, RouteSendCode, []string{
		`{"carrier":"SKT","phone":"01012345678","birthDate":"19900101","sex":"M"}`,
		`{"carrier":"skt","phone":"010-1234-5678","birthDate":"1990-01-01","sex":"m"}`,
		`{"carrier":null}`, `{}`, `[]`, ``, `{"phone":1}`, `{"x":1}`,
	})
}

// FuzzConfirmBody: likewise for POST /v1/verifications/{id}/confirm.
func FuzzConfirmBody(f *testing.F) {
	fuzzPhoneRoute(f, RouteConfirmCode, []string{`{"otp":"123456"}`, `{"otp":123456}`, `{"otp":null}`, `{}`, `{"otp":"12345678901"}`})
}
