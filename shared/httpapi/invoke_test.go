package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// sampleEvent is an event as API Gateway sends one for an accepted
// command (the headers, the context, a small body), with a Lambda
// authorizer's context as well, which our routes never have but the
// decoder must read as encoding/json does.
func sampleEvent() []byte { return apiEvent(true) }

// apiEvent is the event of an accepted command, with an authorizer's
// context or, as API Gateway sends it to our routes, without.
func apiEvent(authorizer bool) []byte {
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /v1/codes/me/reissue", RawPath: "/v1/codes/me/reissue",
		Headers: map[string]string{
			"authorization": "Bearer eyJhbGciOiJIUzI1NiIsImtpZCI6ImIxIiwidHlwIjoiSldUIn0.eyJzdWIiOiJoayJ9.c2lnbmF0dXJl",
			"content-type":  "application/json", "idempotency-key": "b-1-2-1764800000000000000", "user-agent": "Go-http-client/1.1",
			"x-forwarded-for": "198.51.100.7", "x-forwarded-proto": "https", "x-forwarded-port": "443", "host": "api.example",
			"content-length": "25", "accept-encoding": "gzip", "x-pccc-origin": "0123456789abcdef", "x-amzn-trace-id": "Root=1-5e1b4151-5ac6c58f5b5daa6532e4e7f2",
		},
		QueryStringParameters: map[string]string{"lang": "ko"},
		PathParameters:        map[string]string{"id": "abc"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: "POST /v1/codes/me/reissue", AccountID: "123456789012", Stage: "$default", RequestID: "JKJaXmPLvHcESHA=", APIID: "a1b2c3",
			DomainName: "api.example", TimeEpoch: 1764800000000, Time: "07/Dec/2026:17:00:00 +0000",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/v1/codes/me/reissue", Protocol: "HTTP/1.1", SourceIP: "198.51.100.7", UserAgent: "Go-http-client/1.1"},
			Authorizer: &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: map[string]any{"n": 1.5, "s": "x", "l": []any{true, nil}}},
		},
		Body: `{"reason":"leak_concern"}`,
	}
	if !authorizer {
		ev.RequestContext.Authorizer = nil
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return b
}

// decodeV1 is how aws-lambda-go decodes an event.
func decodeV1(p []byte) (events.APIGatewayV2HTTPRequest, error) {
	var ev events.APIGatewayV2HTTPRequest
	err := json.Unmarshal(p, &ev)
	return ev, err
}

// eventCases are events as API Gateway writes them and with the liberties
// encoding/json allows.
func eventCases() map[string][]byte {
	return map[string][]byte{
		"API Gateway's event":       sampleEvent(),
		"names in other cases":      []byte(`{"RouteKey":"GET /x","HEADERS":{"a":"b"},"requestcontext":{"Http":{"METHOD":"GET"}},"Body":"{}"}`),
		"a name twice":              []byte(`{"routeKey":"GET /a","routeKey":"GET /b","headers":{"k":"1","k":"2"}}`),
		"invalid UTF-8":             []byte("{\"body\":\"a\xffb\",\"headers\":{\"x\":\"\xc3(\"}}"),
		"nulls":                     []byte(`{"headers":null,"body":null,"requestContext":null,"cookies":null,"isBase64Encoded":null}`),
		"unknown members":           []byte(`{"nothing":{"deep":[1,2,{"x":null}]},"routeKey":"GET /y"}`),
		"cookies and base64":        []byte(`{"cookies":["a=1","b=2"],"isBase64Encoded":true,"body":"e30="}`),
		"without an authorizer":     apiEvent(false),
		"a list twice, nulls in it": []byte(`{"cookies":["a","b","c"],"cookies":[null,"x"],"cookies":[null,null,null,null]}`),
		"an empty list":             []byte(`{"cookies":["a"],"cookies":[]}`),
		"objects twice":             []byte(`{"headers":{"a":"1","b":null},"headers":{"c":"3"},"requestContext":{"http":{"method":"GET"},"stage":"s"},"requestContext":{"http":{"path":"/p"}}}`),
		"nulls inside":              []byte(`{"requestContext":{"http":null,"authorizer":null,"authentication":null,"timeEpoch":null,"routeKey":null}}`),
		"an authorizer twice":       []byte(`{"requestContext":{"authorizer":{"jwt":{"claims":{"a":"b"}}},"authorizer":{"lambda":{"x":1}}}}`),
		"a client certificate":      []byte(`{"requestContext":{"authentication":{"clientCert":{"subjectDN":"CN=a","validity":{"notAfter":"z","NotBefore":"y"},"other":1},"x":[]}}}`),
		"escapes and folded names":  []byte(`{"ROUTEKEY":"GET \u002fx","ſtageVariables":{"\u006b":"\ud800\n"},"rawPath":"\/a"}`),
		"large whole numbers":       []byte(`{"requestContext":{"timeEpoch":-9223372036854775808}}`),
		"top-level null":            []byte(` null `),
	}
}

// DecodeEvent gives what encoding/json gives, the runtime's own decoder,
// for events as API Gateway writes them and for the liberties
// encoding/json allows: names in another case, a name twice, invalid
// UTF-8, nulls.
func TestDecodeEventAsEncodingJSON(t *testing.T) {
	for name, p := range eventCases() {
		t.Run(name, func(t *testing.T) {
			want, err := decodeV1(p)
			if err != nil {
				t.Fatalf("encoding/json refused it: %v", err)
			}
			got, err := DecodeEvent(p)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("DecodeEvent:\n%+v\nencoding/json:\n%+v", got, want)
			}
		})
	}
	// What encoding/json refuses, it refuses too.
	for _, p := range []string{`{"headers":{"a":1}}`, `{"routeKey":`, `[]`, `{"isBase64Encoded":"yes"}`, `{} {}`, `{}x`,
		`{"requestContext":{"timeEpoch":1.5}}`, `{"requestContext":{"timeEpoch":1e3}}`, `{"requestContext":{"timeEpoch":9223372036854775808}}`,
		`{"requestContext":{"timeEpoch":"1"}}`, `{"cookies":[1]}`, `{"cookies":"a"}`, `{"requestContext":[]}`, `{"headers":[]}`,
		`{"requestContext":{"authorizer":{"jwt":[]}}}`, `{"requestContext":{"authentication":{"clientCert":{"validity":{"notAfter":1}}}}}`} {
		if _, err := DecodeEvent([]byte(p)); err == nil {
			t.Errorf("DecodeEvent took %s", p)
		}
	}
}

// FuzzDecodeEvent: whatever encoding/json decodes, DecodeEvent decodes to
// the same event.
func FuzzDecodeEvent(f *testing.F) {
	for _, p := range eventCases() {
		f.Add(p)
	}
	f.Add([]byte(`{"requestContext":{"authorizer":{"lambda":{"n":1e3,"a":[{}]}}}}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		want, err := decodeV1(p)
		if err != nil {
			return
		}
		got, err := DecodeEvent(p)
		if err != nil {
			t.Fatalf("encoding/json decodes %q, DecodeEvent: %v", p, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\nDecodeEvent   %+v\nencoding/json %+v", p, got, want)
		}
	})
}

// A LambdaHandler given to the Lambda runtime's handler answers the same
// bytes as the same function given as a plain func, which the runtime
// decodes and encodes itself.
func TestInvokeAnswersAsTheRuntime(t *testing.T) {
	fn := func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 202, Headers: map[string]string{"Content-Type": "application/json"},
			Body: `{"route":"` + ev.RouteKey + `","ip":"` + ev.RequestContext.HTTP.SourceIP + `","html":"<a&b>"}`}, nil
	}
	p := sampleEvent()
	want, err := lambda.NewHandler(fn).Invoke(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	want = bytes.Clone(want)
	got, err := lambda.NewHandler(LambdaHandler(fn)).Invoke(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("through Invoke:\n%s\nas the runtime does it:\n%s", got, want)
	}
	if !bytes.Contains(got, []byte(`\"route\":\"POST /v1/codes/me/reissue\",\"ip\":\"198.51.100.7\"`)) {
		t.Errorf("the handler did not see the event: %s", got)
	}
	// A payload that is not an event is the runtime's error, not a call.
	called := false
	h := LambdaHandler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		called = true
		return events.APIGatewayV2HTTPResponse{}, nil
	})
	if _, err := h.Invoke(context.Background(), []byte(`{"headers":[1]}`)); err == nil || called {
		t.Errorf("a bad payload: err %v, handler called %v", err, called)
	}
}

func BenchmarkEventDecodeEncodingJSON(b *testing.B) {
	p := apiEvent(false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeV1(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventDecode(b *testing.B) {
	p := apiEvent(false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEvent(p); err != nil {
			b.Fatal(err)
		}
	}
}

// runtimeEncode is how aws-lambda-go writes a handler's answer.
func runtimeEncode(r events.APIGatewayV2HTTPResponse) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		panic(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// AppendResponse writes what the runtime's encoding/json writes, byte for
// byte, whatever the strings hold.
func FuzzAppendResponse(f *testing.F) {
	f.Add(200, "Content-Type", "application/json; charset=utf-8", `{"code":"P123456789012","html":"<a&b>"}`, "id=1; Path=/", false, false)
	f.Add(-1, "", "\x00\x1f\x7f\"\\\b\f\n\r\t", "\xff\xfe\u2028\u2029\u00e9한\U0001F600", "", true, true)
	f.Add(503, "X-\xc3", "\xed\xa0\x80", "\xe2\x80", "a\x00b", false, true)
	f.Fuzz(func(t *testing.T, status int, k, v, body, cookie string, b64, nils bool) {
		r := events.APIGatewayV2HTTPResponse{StatusCode: status, Body: body, IsBase64Encoded: b64}
		if !nils {
			r.Headers = map[string]string{k: v, "Cache-Control": "no-store", "X-Request-Id": v + k}
			r.MultiValueHeaders = map[string][]string{k: {v, body}, "empty": {}, "nil": nil}
			r.Cookies = []string{cookie, v}
		}
		want := runtimeEncode(r)
		if got := AppendResponse(nil, r); !bytes.Equal(got, want) {
			t.Fatalf("AppendResponse:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

func BenchmarkResponseEncodingJSON(b *testing.B) {
	r := events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", "X-Request-Id": "CiIGVhIcoE0EPkQ="},
		Body: `{"code":"P123456789012","status":"active","koreanName":"홍길동","addresses":[{"zip":"06236","address":"서울특별시 강남구 테헤란로 123"}]}`}
	b.ReportAllocs()
	for b.Loop() {
		runtimeEncode(r)
	}
}

func BenchmarkResponseAppend(b *testing.B) {
	r := events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store", "X-Request-Id": "CiIGVhIcoE0EPkQ="},
		Body: `{"code":"P123456789012","status":"active","koreanName":"홍길동","addresses":[{"zip":"06236","address":"서울특별시 강남구 테헤란로 123"}]}`}
	b.ReportAllocs()
	for b.Loop() {
		AppendResponse(nil, r)
	}
}
