package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestRequireOrigin(t *testing.T) {
	const secret = "0123456789abcdef0123456789abcdef-origin"
	var logs bytes.Buffer
	calls := 0
	inner := Handler(slog.New(slog.NewJSONHandler(&logs, nil)), Routes{"GET /v1/x": func(context.Context, *Request) (*Response, error) {
		calls++
		return JSON(200, map[string]string{"ok": "yes"}), nil
	}})
	const next = "the-rotated-in-origin-secret-of-32+chars"
	h := RequireOrigin(slog.New(slog.NewJSONHandler(&logs, nil)), inner, secret, next)
	tests := []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"through the distribution", map[string]string{"x-pccc-origin": secret}, 200},
		{"header name in any case", map[string]string{"X-Pccc-Origin": secret}, 200},
		{"the rotated-in secret", map[string]string{"x-pccc-origin": next}, 200},
		{"no header", nil, 403},
		{"empty value", map[string]string{"x-pccc-origin": ""}, 403},
		{"wrong value", map[string]string{"x-pccc-origin": strings.Repeat("x", len(secret))}, 403},
		{"prefix of the secret", map[string]string{"x-pccc-origin": secret[:len(secret)-1]}, 403},
		{"secret and more", map[string]string{"x-pccc-origin": secret + "x"}, 403},
		{"another header with the value", map[string]string{"x-origin": secret}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := calls
			ev := events.APIGatewayV2HTTPRequest{RouteKey: "GET /v1/x", Headers: tt.headers}
			ev.RequestContext.RequestID = "req-1"
			resp, err := h(context.Background(), ev)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.want, resp.Body)
			}
			if tt.want == 200 {
				if calls != before+1 {
					t.Error("the endpoint was not called")
				}
				return
			}
			if calls != before {
				t.Error("a refused request reached the endpoint")
			}
			var body struct {
				Error     struct{ Code, Message string }
				RequestID string
			}
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatal(err)
			}
			if body.Error.Code != "FORBIDDEN" || !strings.Contains(body.Error.Message, "distribution") || body.RequestID != "req-1" {
				t.Errorf("body = %s", resp.Body)
			}
			if resp.Headers["X-Request-Id"] != "req-1" || resp.Headers["Cache-Control"] != "no-store" {
				t.Errorf("headers = %v", resp.Headers)
			}
		})
	}
	if strings.Contains(logs.String(), secret[:16]) || strings.Contains(logs.String(), "xxxxxxxx") {
		t.Errorf("a header value reached the log: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "request not from the distribution") {
		t.Errorf("refusals are not logged: %s", logs.String())
	}
}

func TestRequireOriginWithoutSecrets(t *testing.T) {
	h := RequireOrigin(slog.New(slog.DiscardHandler), func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}, "")
	for _, v := range []string{"", "x"} {
		resp, _ := h(context.Background(), events.APIGatewayV2HTTPRequest{Headers: map[string]string{"x-pccc-origin": v}})
		if resp.StatusCode != 403 {
			t.Errorf("header %q passed with no secret: %d", v, resp.StatusCode)
		}
	}
}
