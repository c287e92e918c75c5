package session

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/httpapi"
)

const route = "GET /v1/code"

func holderEvent(headers map[string]string) events.APIGatewayV2HTTPRequest {
	ev := events.APIGatewayV2HTTPRequest{RouteKey: route, RawPath: "/v1/code", Headers: headers}
	ev.RequestContext.RequestID = "rid-42"
	ev.RequestContext.HTTP.Method = http.MethodGet
	ev.RequestContext.HTTP.Path = "/v1/code"
	ev.RequestContext.HTTP.SourceIP = "203.0.113.7"
	return ev
}

func TestRequireHolder(t *testing.T) {
	c := &clock{t0}
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", c)
	good, _, err := iss.Issue(holderA, verID)
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := iss.Issue(holderB, verID)
	if err != nil {
		t.Fatal(err)
	}
	forger := newIssuer(t, map[string][]byte{"k1": keyX}, "k1", c)
	forged, _, err := forger.Issue(holderA, verID)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		headers map[string]string
		at      time.Time
		secret  string // must never appear in the response or logs
		want    int
		holder  string
	}{
		{"good token", map[string]string{"authorization": "Bearer " + good}, t0, "", 200, holderA},
		{"scheme in lower case", map[string]string{"authorization": "bearer " + good}, t0, "", 200, holderA},
		{"header name capitalised", map[string]string{"Authorization": "BEARER " + good}, t0, "", 200, holderA},
		{"missing header", map[string]string{}, t0, "", 401, ""},
		{"empty header", map[string]string{"authorization": ""}, t0, "", 401, ""},
		{"scheme only", map[string]string{"authorization": "Bearer"}, t0, "", 401, ""},
		{"wrong scheme", map[string]string{"authorization": "Basic " + good}, t0, good, 401, ""},
		{"token without scheme", map[string]string{"authorization": good}, t0, good, 401, ""},
		{"garbage", map[string]string{"authorization": "Bearer garbage-token-value"}, t0, "garbage-token-value", 401, ""},
		{"trailing junk", map[string]string{"authorization": "Bearer " + good + " extra"}, t0, good, 401, ""},
		{"expired", map[string]string{"authorization": "Bearer " + expired}, t0.Add(time.Hour), expired, 401, ""},
		{"forged", map[string]string{"authorization": "Bearer " + forged}, t0, forged, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = tt.at
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			called := false
			ep := RequireHolder(iss, func(_ context.Context, _ *httpapi.Request, cl Claims) (*httpapi.Response, error) {
				called = true
				return httpapi.JSON(200, map[string]string{"holder": cl.HolderKey, "verificationId": cl.VerificationID}), nil
			})
			h := httpapi.Handler(log, httpapi.Routes{route: ep})
			resp, err := h(context.Background(), holderEvent(tt.headers))
			if err != nil {
				t.Fatalf("handler error: %v", err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.want, resp.Body)
			}
			if tt.want == 200 {
				var body map[string]string
				if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
					t.Fatal(err)
				}
				if body["holder"] != tt.holder || body["verificationId"] != verID {
					t.Fatalf("endpoint saw %v", body)
				}
				return
			}
			if called {
				t.Fatal("endpoint ran without a valid token")
			}
			var body struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
				RequestID string `json:"requestId"`
			}
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			if body.Error.Code != "UNAUTHENTICATED" || body.Error.Message != Message || body.RequestID != "rid-42" {
				t.Fatalf("body = %s", resp.Body)
			}
			if resp.Headers["X-Request-Id"] != "rid-42" {
				t.Fatalf("headers = %v", resp.Headers)
			}
			if tt.secret != "" {
				if strings.Contains(resp.Body, tt.secret) {
					t.Fatal("401 body echoes the token")
				}
				if strings.Contains(logs.String(), tt.secret) {
					t.Fatal("logs carry the token")
				}
			}
		})
	}
}

func TestBearer(t *testing.T) {
	tests := []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bEaReR abc", "abc", true},
		{"  Bearer   abc  ", "abc", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Token abc", "", false},
		{"Bearer a b", "", false},
		{"Bearer a\tb", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			got, err := bearer(tt.header)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("bearer(%q) = %q, %v", tt.header, got, err)
			}
		})
	}
}
