package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/apperr"
)

type sample struct {
	Name   string            `json:"name"`
	Count  int               `json:"count"`
	Tags   []string          `json:"tags"`
	Addr   *zipOnly          `json:"addr"`
	Addrs  []zipOnly         `json:"addrs"`
	Labels map[string]string `json:"labels"`
	Raw    json.RawMessage   `json:"raw"`
}

type zipOnly struct {
	Zip string `json:"zip"`
}

func event(body string, headers map[string]string) events.APIGatewayV2HTTPRequest {
	if headers == nil {
		headers = map[string]string{"content-type": "application/json"}
	}
	ev := events.APIGatewayV2HTTPRequest{RouteKey: "POST /x", Body: body, Headers: headers}
	ev.RequestContext.RequestID = "rid-1"
	return ev
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		headers   map[string]string
		base64    bool
		wantField string // "" means success
	}{
		{name: "ok", body: `{"name":"a","count":2}`},
		{name: "ok with charset", body: `{"name":"a"}`, headers: map[string]string{"Content-Type": "application/json; charset=UTF-8"}},
		{name: "ok without content type", body: `{"name":"a"}`, headers: map[string]string{}},
		{name: "ok base64", body: base64.StdEncoding.EncodeToString([]byte(`{"name":"a"}`)), base64: true},
		{name: "form content type", body: `name=a`, headers: map[string]string{"content-type": "application/x-www-form-urlencoded"}, wantField: "Content-Type"},
		{name: "latin1 charset", body: `{}`, headers: map[string]string{"content-type": "application/json; charset=latin1"}, wantField: "Content-Type"},
		{name: "empty", body: ``, wantField: "body"},
		{name: "array", body: `[1,2]`, wantField: "body"},
		{name: "string", body: `"x"`, wantField: "body"},
		{name: "null", body: `null`, wantField: "body"},
		{name: "not json", body: `{name:`, wantField: "body"},
		{name: "truncated", body: `{"name":"a"`, wantField: "body"},
		{name: "unknown field", body: `{"name":"a","extra":1}`, wantField: "extra"},
		{name: "wrong type", body: `{"count":"two"}`, wantField: "count"},
		{name: "wrong list type", body: `{"tags":"a"}`, wantField: "tags"},
		{name: "trailing data", body: `{"name":"a"} {"name":"b"}`, wantField: "body"},
		{name: "too large", body: `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, wantField: "body"},
		{name: "bad base64", body: `!!!`, base64: true, wantField: "body"},
		{name: "duplicate key", body: `{"name":"a","name":"b"}`, wantField: "name"},
		{name: "duplicate key, escaped", body: `{"name":"a","na\u006de":"b"}`, wantField: "name"},
		{name: "duplicate key in a nested object", body: `{"name":"a","addr":{"zip":"1","zip":"2"}}`, wantField: "addr.zip"},
		{name: "duplicate key in a list's object", body: `{"name":"a","addrs":[{"zip":"1"},{"zip":"1","zip":"2"}]}`, wantField: "addrs[1].zip"},
		{name: "duplicate key in a map", body: `{"name":"a","labels":{"k":"1","k":"2"}}`, wantField: "labels.k"},
		{name: "duplicate key in a raw value", body: `{"name":"a","raw":{"x":1,"x":2}}`, wantField: "raw.x"},
		{name: "field in the wrong case", body: `{"NAME":"a"}`, wantField: "NAME"},
		{name: "field in the wrong case, nested", body: `{"name":"a","addr":{"Zip":"1"}}`, wantField: "addr.Zip"},
		{name: "unknown nested field", body: `{"name":"a","addrs":[{"zap":"1"}]}`, wantField: "addrs[0].zap"},
		{name: "map keys in any case", body: `{"name":"a","labels":{"K":"1","k":"2"}}`},
		{name: "deep nesting", body: `{"name":"a","raw":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, wantField: "body"},
		{name: "empty key", body: `{"name":"a","":1}`, wantField: "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := event(tt.body, tt.headers)
			ev.IsBase64Encoded = tt.base64
			var dst sample
			err := DecodeJSON(&Request{Event: ev}, &dst)
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if dst.Name != "a" {
					t.Fatalf("decoded %+v", dst)
				}
				return
			}
			var e *apperr.Error
			if !errors.As(err, &e) || e.Code != apperr.Invalid {
				t.Fatalf("want INVALID_ARGUMENT, got %v", err)
			}
			if _, ok := e.Fields[tt.wantField]; !ok {
				t.Fatalf("fields %v do not name %q", e.Fields, tt.wantField)
			}
		})
	}
}

func errorBodyOf(t *testing.T, resp events.APIGatewayV2HTTPResponse) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
		t.Fatalf("body %q: %v", resp.Body, err)
	}
	return body
}

func TestHandlerRendersErrorsAndResults(t *testing.T) {
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := Handler(log, Routes{
		"POST /ok": func(ctx context.Context, r *Request) (*Response, error) {
			return JSON(201, map[string]string{"id": "x"}), nil
		},
		"POST /limited": func(ctx context.Context, r *Request) (*Response, error) {
			return nil, apperr.Limited(apperr.RateLimited, apperr.LimitAddressRate, "Slow down.", 1500*time.Millisecond)
		},
		"POST /boom": func(ctx context.Context, r *Request) (*Response, error) {
			return nil, errors.New("secret internal detail")
		},
		"POST /timeout": func(ctx context.Context, r *Request) (*Response, error) {
			return nil, fmt.Errorf("get holder: %w", context.DeadlineExceeded)
		},
		"POST /unreachable": func(ctx context.Context, r *Request) (*Response, error) {
			_, err := net.Dial("tcp", "127.0.0.1:1") // nothing listens on port 1
			return nil, fmt.Errorf("send command to 10.0.0.1: %w", err)
		},
		"POST /panic": func(ctx context.Context, r *Request) (*Response, error) {
			panic("oh no")
		},
		"POST /fields": func(ctx context.Context, r *Request) (*Response, error) {
			e := apperr.InvalidField("rrn", "must be 13 digits")
			e.Details = map[string]any{"attemptsLeft": 2}
			return nil, e
		},
	})
	call := func(route string) events.APIGatewayV2HTTPResponse {
		ev := event(`{}`, nil)
		ev.RouteKey = route
		resp, err := h(context.Background(), ev)
		if err != nil {
			t.Fatalf("handler returned error %v", err)
		}
		if resp.Headers["X-Request-Id"] != "rid-1" {
			t.Fatalf("%s: X-Request-Id = %q", route, resp.Headers["X-Request-Id"])
		}
		return resp
	}

	if r := call("POST /ok"); r.StatusCode != 201 || r.Body != `{"id":"x"}` {
		t.Fatalf("ok: %d %s", r.StatusCode, r.Body)
	}
	r := call("POST /limited")
	if r.StatusCode != 429 || r.Headers["Retry-After"] != "2" || errorBodyOf(t, r)["error"].(map[string]any)["limit"] != "address-rate" {
		t.Fatalf("limited: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	for _, route := range []string{"POST /boom", "POST /panic"} {
		r := call(route)
		body := errorBodyOf(t, r)
		errObj := body["error"].(map[string]any)
		if r.StatusCode != 500 || errObj["message"] != "Internal error." || errObj["code"] != "INTERNAL" || body["requestId"] != "rid-1" {
			t.Fatalf("%s: %d %s", route, r.StatusCode, r.Body)
		}
		if strings.Contains(r.Body, "secret") || strings.Contains(r.Body, "oh no") {
			t.Fatalf("%s leaks the cause: %s", route, r.Body)
		}
	}
	// A dependency timed out or unreachable: 503 with Retry-After, as a
	// retry may work; the cause stays in the log.
	for _, route := range []string{"POST /timeout", "POST /unreachable"} {
		r := call(route)
		body := errorBodyOf(t, r)
		errObj := body["error"].(map[string]any)
		if r.StatusCode != 503 || errObj["code"] != "OVERLOADED" || r.Headers["Retry-After"] != "1" || strings.Contains(r.Body, "10.0.0.1") {
			t.Fatalf("%s: %d %v %s", route, r.StatusCode, r.Headers, r.Body)
		}
	}
	body := errorBodyOf(t, call("POST /fields"))
	errObj := body["error"].(map[string]any)
	if errObj["fields"].(map[string]any)["rrn"] != "must be 13 digits" || errObj["attemptsLeft"] != float64(2) {
		t.Fatalf("fields: %v", body)
	}
	if r := call("GET /nowhere"); r.StatusCode != 404 {
		t.Fatalf("unknown route: %d", r.StatusCode)
	}
}

// The "request" line names a refusal's code and limit (the template's
// metric filters count refusals by them) and nothing of the request.
func TestRequestLineNamesTheRefusal(t *testing.T) {
	var buf strings.Builder
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	h := Handler(log, Routes{
		"POST /ok": func(ctx context.Context, r *Request) (*Response, error) {
			return JSON(202, map[string]string{"id": "x"}), nil
		},
		"POST /limited": func(ctx context.Context, r *Request) (*Response, error) {
			return nil, apperr.Limited(apperr.RateLimited, apperr.LimitPhoneCodes, "Slow down.", time.Second)
		},
		"POST /busy": func(ctx context.Context, r *Request) (*Response, error) {
			return nil, apperr.New(apperr.Overloaded, "Busy.").WithRetryAfter(time.Second)
		},
		"POST /panic": func(ctx context.Context, r *Request) (*Response, error) {
			panic("oh no")
		},
	})
	for _, tt := range []struct {
		route       string
		status      float64
		code, limit string
	}{
		{"POST /ok", 202, "", ""},
		{"POST /limited", 429, "RATE_LIMITED", "phone-codes"},
		{"POST /busy", 503, "OVERLOADED", ""},
		{"POST /panic", 500, "INTERNAL", ""},
		{"GET /nowhere", 404, "NOT_FOUND", ""},
	} {
		buf.Reset()
		ev := event(`{"name":"홍길동"}`, nil)
		ev.RouteKey = tt.route
		if _, err := h(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
		var line map[string]any
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("%s: log line %q: %v", tt.route, l, err)
			}
			if m["msg"] == "request" {
				line = m
			}
		}
		if line == nil {
			t.Fatalf("%s: no request line in %s", tt.route, buf.String())
		}
		code, _ := line["code"].(string)
		limit, _ := line["limit"].(string)
		if line["status"] != tt.status || code != tt.code || limit != tt.limit {
			t.Errorf("%s: request line %v; want status %v code %q limit %q", tt.route, line, tt.status, tt.code, tt.limit)
		}
		if strings.Contains(buf.String(), "홍길동") {
			t.Errorf("%s: the log holds the body: %s", tt.route, buf.String())
		}
	}
}
