package openapi

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pccc/pccc/shared/logging"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/testkit"
)

// invoke builds the function as its main does and runs ev through the
// Lambda runtime's own handler wrapper, JSON in and JSON out.
func invoke(t *testing.T, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	logs := &testkit.Buffer{}
	built, err := Build(context.Background(), platform.Deps{Log: logging.New(logs, "debug")})
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewHandler(built).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("the answer is not an API Gateway response: %v", err)
	}
	return resp
}

func TestServesTheDocument(t *testing.T) {
	resp := invoke(t, testkit.Event(t, "get-openapi.json"))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, body %s", resp.StatusCode, resp.Body)
	}
	if ct := resp.Headers["Content-Type"]; !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := resp.Headers["Cache-Control"]; cc != CacheControl {
		t.Errorf("Cache-Control = %q, want %q", cc, CacheControl)
	}
	if id := resp.Headers["X-Request-Id"]; id != "Qa7WvUtSrPoNmL=" {
		t.Errorf("X-Request-Id = %q, want API Gateway's request id", id)
	}
	if resp.IsBase64Encoded {
		t.Error("the body is base64-encoded; API Gateway would pass it on as such")
	}
	var served, stored any
	if err := json.Unmarshal([]byte(resp.Body), &served); err != nil {
		t.Fatalf("served body is not JSON: %v", err)
	}
	if err := json.Unmarshal(Document(), &stored); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(served, stored) {
		t.Error("the served document differs from openapi.json")
	}
}

func TestOtherRoutesAreNotServed(t *testing.T) {
	ev := testkit.Event(t, "get-openapi.json")
	ev.RouteKey, ev.RequestContext.RouteKey = "GET /v1/openapi.yaml", "GET /v1/openapi.yaml"
	resp := invoke(t, ev)
	if resp.StatusCode != 404 || !strings.Contains(resp.Body, `"NOT_FOUND"`) {
		t.Errorf("status %d, body %s; want 404 NOT_FOUND", resp.StatusCode, resp.Body)
	}
}

func TestServeRefusesABrokenDocument(t *testing.T) {
	if _, err := Serve([]byte(`{"openapi": "3.1.0",`)); err == nil {
		t.Error("Serve accepted a document that is not JSON")
	}
	if _, err := Build(context.Background(), platform.Deps{}); err == nil {
		t.Error("Build without a logger succeeded")
	}
}
