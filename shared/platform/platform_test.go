package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/config"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/keyring"
)

func apiBuilder(context.Context, Deps) (any, error) {
	return httpapi.Handler(slog.New(slog.NewTextHandler(io.Discard, nil)), httpapi.Routes{
		"GET /v1/x": func(context.Context, *httpapi.Request) (*httpapi.Response, error) {
			return httpapi.JSON(200, map[string]bool{"ok": true}), nil
		},
	}), nil
}

func plainAPIBuilder(context.Context, Deps) (any, error) {
	return func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}, nil
}

func queueBuilder(context.Context, Deps) (any, error) {
	return func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{}, nil
	}, nil
}

// deps are a function's dependencies with the origin ring given (when
// origin is set: one key of that value) or not.
func deps(env string, origin []byte) Deps {
	cfg := config.Config{Env: env}
	if origin != nil {
		cfg.KeyKinds = []keyring.Kind{keyring.Origin}
		cfg.Keys, _ = keyring.Load(context.Background(), keyring.NewStatic(map[keyring.Kind]keyring.Ring{
			keyring.Origin: {Active: "o1", Keys: map[string][]byte{"o1": origin}},
		}), cfg.KeyKinds, nil)
	} else {
		cfg.Keys, _ = keyring.ForTest()
	}
	return Deps{Config: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// Every API handler, whatever builds it, comes out of Build requiring the
// origin header; queue handlers are left alone.
func TestBuildRequiresTheOriginHeader(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	secret := keyring.OriginValue(key)
	for name, b := range map[string]Builder{"httpapi.Handler": apiBuilder, "plain func": plainAPIBuilder} {
		t.Run(name, func(t *testing.T) {
			h, err := Build(context.Background(), b, deps("aws", key))
			if err != nil {
				t.Fatal(err)
			}
			api, ok := h.(httpapi.LambdaHandler)
			if !ok {
				t.Fatalf("Build returned %T", h)
			}
			for _, tt := range []struct {
				header string
				want   int
			}{{"", 403}, {"guess", 403}, {secret, 200}} {
				ev := events.APIGatewayV2HTTPRequest{RouteKey: "GET /v1/x", Headers: map[string]string{}}
				if tt.header != "" {
					ev.Headers["x-pccc-origin"] = tt.header
				}
				resp, err := api(context.Background(), ev)
				if err != nil || resp.StatusCode != tt.want {
					t.Errorf("header %q: %d, %v; want %d", tt.header, resp.StatusCode, err, tt.want)
				}
			}
		})
	}
}

func TestBuildWithoutOriginKeys(t *testing.T) {
	if _, err := Build(context.Background(), apiBuilder, deps("aws", nil)); err == nil || !strings.Contains(err.Error(), "origin keys") {
		t.Errorf("an API function in AWS without the origin ring: err = %v", err)
	}
	// A local run of a template without a distribution: nothing to check.
	h, err := Build(context.Background(), apiBuilder, deps("local", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := h.(httpapi.LambdaHandler)(context.Background(), events.APIGatewayV2HTTPRequest{RouteKey: "GET /v1/x"})
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("local without a distribution: %d, %v", resp.StatusCode, err)
	}
	// Queue functions need no origin keys, in AWS either.
	q, err := Build(context.Background(), queueBuilder, deps("aws", nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := q.(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)); !ok {
		t.Errorf("queue handler came back as %T", q)
	}
	raw := func(context.Context, Deps) (any, error) {
		return func(context.Context, json.RawMessage) (string, error) { return "", nil }, nil
	}
	if _, err := Build(context.Background(), raw, deps("aws", nil)); err != nil {
		t.Errorf("a raw handler: %v", err)
	}
}
