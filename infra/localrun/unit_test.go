package localrun

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pccc/pccc/infra/samtemplate"
)

func TestParseExpression(t *testing.T) {
	base := time.Date(2025, 12, 1, 10, 17, 30, 0, time.UTC)
	tests := []struct {
		expr string
		next []time.Time // successive firings after base
		err  string
	}{
		{expr: "rate(1 minute)", next: []time.Time{base.Add(time.Minute), base.Add(2 * time.Minute)}},
		{expr: "rate(5 minutes)", next: []time.Time{base.Add(5 * time.Minute)}},
		{expr: "rate(2 hours)", next: []time.Time{base.Add(2 * time.Hour)}},
		{expr: "rate(1 day)", next: []time.Time{base.Add(24 * time.Hour)}},
		{expr: "cron(0 3 * * ? *)", next: []time.Time{time.Date(2025, 12, 2, 3, 0, 0, 0, time.UTC), time.Date(2025, 12, 3, 3, 0, 0, 0, time.UTC)}},
		{expr: "cron(*/15 * * * ? *)", next: []time.Time{time.Date(2025, 12, 1, 10, 30, 0, 0, time.UTC), time.Date(2025, 12, 1, 10, 45, 0, 0, time.UTC)}},
		{expr: "cron(0,30 9-10 ? * * *)", next: []time.Time{time.Date(2025, 12, 1, 10, 30, 0, 0, time.UTC), time.Date(2025, 12, 2, 9, 0, 0, 0, time.UTC)}},
		{expr: "cron(5 0-23/12 * * ? *)", next: []time.Time{time.Date(2025, 12, 1, 12, 5, 0, 0, time.UTC), time.Date(2025, 12, 2, 0, 5, 0, 0, time.UTC)}},
		{expr: "rate(1 minutes)", err: "unit must be"},
		{expr: "rate(2 minute)", err: "plural"},
		{expr: "rate(0 minutes)", err: "positive"},
		{expr: "rate(5 weeks)", err: "unit must be"},
		{expr: "cron(0 3 * * *)", err: "6 fields"},
		{expr: "cron(0 3 * * * *)", err: "exactly one of"},
		{expr: "cron(0 3 ? * ? *)", err: "exactly one of"},
		{expr: "cron(0 3 1 * ? *)", err: "only * or ?"},
		{expr: "cron(0 3 ? * MON-FRI *)", err: "only * or ?"},
		{expr: "cron(60 3 * * ? *)", err: "outside 0-59"},
		{expr: "cron(0 24 * * ? *)", err: "outside 0-23"},
		{expr: "cron(0 5-3 * * ? *)", err: "bad range"},
		{expr: "at(2025-12-01T00:00:00)", err: "want rate(...) or cron(...)"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			e, err := parseExpression(tt.expr)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			at := base
			for i, want := range tt.next {
				at = e.next(at)
				if !at.Equal(want) {
					t.Fatalf("firing %d = %s, want %s", i+1, at, want)
				}
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(`
Resources:
  F:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/f
      Events:
        A: {Type: HttpApi, Properties: {Path: "/v1/codes/me", Method: GET}}
        B: {Type: HttpApi, Properties: {Path: "/v1/codes/{id}", Method: GET}}
        C: {Type: HttpApi, Properties: {Path: "/v1/{proxy+}", Method: ANY}}
        D: {Type: HttpApi, Properties: {Path: "/v1/codes/{id}", Method: ANY}}
        E: {Type: HttpApi}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{tpl: tpl, functions: map[string]*function{"F": {id: "F"}}, cors: map[string]*corsPolicy{}}
	if err := r.buildRoutes(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path, want string
		params             map[string]string
	}{
		{"GET", "/v1/codes/me", "GET /v1/codes/me", nil},
		{"GET", "/v1/codes/P123", "GET /v1/codes/{id}", map[string]string{"id": "P123"}},
		{"POST", "/v1/codes/P123", "ANY /v1/codes/{id}", map[string]string{"id": "P123"}},
		{"GET", "/v1/codes/P1/history", "ANY /v1/{proxy+}", map[string]string{"proxy": "codes/P1/history"}},
		{"GET", "/v1/codes/", "ANY /v1/{proxy+}", map[string]string{"proxy": "codes/"}},
		{"GET", "/v1", "$default", nil},
		{"GET", "/other", "$default", nil},
	}
	for _, tt := range tests {
		rt, params := r.match(tt.method, tt.path)
		if rt == nil || rt.RouteKey() != tt.want || !reflect.DeepEqual(params, tt.params) && len(params)+len(tt.params) > 0 {
			got := "<nil>"
			if rt != nil {
				got = rt.RouteKey()
			}
			t.Errorf("%s %s -> %s %v, want %s %v", tt.method, tt.path, got, params, tt.want, tt.params)
		}
	}
}

func TestWriteAPIResponse(t *testing.T) {
	tests := []struct {
		name, out   string
		cors        bool
		status      int
		body        string
		header, val string
		err         string
	}{
		{name: "structured", out: `{"statusCode":201,"headers":{"X-Request-Id":"r1"},"body":"{}"}`, status: 201, body: "{}", header: "X-Request-Id", val: "r1"},
		{name: "base64", out: `{"statusCode":200,"body":"AAH/","isBase64Encoded":true}`, status: 200, body: "\x00\x01\xff"},
		{name: "cookies", out: `{"statusCode":200,"cookies":["a=1","b=2"]}`, status: 200, header: "Set-Cookie", val: "a=1"},
		{name: "no content type is not sniffed", out: `{"statusCode":200,"body":"<html>"}`, status: 200, body: "<html>", header: "Content-Type", val: ""},
		{name: "function CORS headers dropped", out: `{"statusCode":200,"headers":{"Access-Control-Allow-Origin":"*"}}`, cors: true, status: 200, header: "Access-Control-Allow-Origin", val: ""},
		{name: "bare JSON is a 200 body", out: `{"hello":"world"}`, status: 200, body: `{"hello":"world"}`, header: "Content-Type", val: "application/json"},
		{name: "JSON string", out: `"ok"`, status: 200, body: `"ok"`},
		{name: "not JSON", out: `oops`, err: "no JSON"},
		{name: "bad status", out: `{"statusCode":42}`, err: "status 42"},
		{name: "bad base64", out: `{"statusCode":200,"body":"!!","isBase64Encoded":true}`, err: "not base64"},
		{name: "status of wrong type", out: `{"statusCode":"200"}`, err: "malformed"},
		{name: "status not the first key", out: `{"headers":{"X-A":"1"},"statusCode":202}`, status: 202, header: "X-A", val: "1"},
		{name: "another spelling of the key is a 200 body", out: `{"StatusCode":201}`, status: 200, body: `{"StatusCode":201}`},
		{name: "a later key of another spelling wins, as before", out: `{"statusCode":201,"StatusCode":202}`, status: 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			err := writeAPIResponse(w, []byte(tt.out), tt.cors)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.status || (tt.body != "" && w.Body.String() != tt.body) {
				t.Errorf("= %d %q, want %d %q", w.Code, w.Body.String(), tt.status, tt.body)
			}
			if tt.header != "" && w.Header().Get(tt.header) != tt.val {
				t.Errorf("%s = %q, want %q", tt.header, w.Header().Get(tt.header), tt.val)
			}
		})
	}
}

func TestBatchFailures(t *testing.T) {
	msgs := []sqstypes.Message{{MessageId: ptr("m1")}, {MessageId: ptr("m2")}}
	tests := []struct {
		name, out string
		want      map[string]bool
		err       string
	}{
		{"empty answer: all succeeded", ``, map[string]bool{}, ""},
		{"null: all succeeded", `null`, map[string]bool{}, ""},
		{"no failures", `{"batchItemFailures":[]}`, map[string]bool{}, ""},
		{"one failure", `{"batchItemFailures":[{"itemIdentifier":"m2"}]}`, map[string]bool{"m2": true}, ""},
		{"unknown id fails the batch", `{"batchItemFailures":[{"itemIdentifier":"zz"}]}`, nil, "not in the batch"},
		{"empty id fails the batch", `{"batchItemFailures":[{"itemIdentifier":""}]}`, nil, "not in the batch"},
		{"not a response", `[1]`, nil, "not an SQSEventResponse"},
	}
	for _, tt := range tests {
		got, err := batchFailures([]byte(tt.out), msgs)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestReplaceDynamicRefs(t *testing.T) {
	secrets := map[string]string{"hmacKey": "H", "dataKeys": "dev1:K"}
	tests := []struct{ in, want, err string }{
		{"{{resolve:secretsmanager:pccc/dev:SecretString:hmacKey}}", "H", ""},
		{"a-{{resolve:secretsmanager:arn:aws:secretsmanager:r:1:secret:x:SecretString:dataKeys}}", "a-dev1:K", ""},
		{"{{resolve:secretsmanager:pccc/dev:SecretString:dataKeys::}}", "dev1:K", ""},
		{"plain", "plain", ""},
		{"{{resolve:secretsmanager:pccc/dev:SecretString:other}}", "", `secret key "other"`},
		{"{{resolve:secretsmanager:pccc/dev}}", "", "must name a JSON key"},
		{"{{resolve:ssm:/pccc/x}}", "", "ssm is not supported"},
	}
	for _, tt := range tests {
		got, err := replaceDynamicRefs(tt.in, secrets)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestIsText(t *testing.T) {
	tests := []struct {
		ct, body string
		want     bool
	}{
		{"application/json; charset=utf-8", `{}`, true},
		{"application/problem+json", `{}`, true},
		{"text/csv", "a,b", true},
		{"", "plain", true},
		{"application/octet-stream", "abc", false},
		{"image/png", "abc", false},
		{"text/plain", "\xff", false},
		{"nonsense;;", "abc", false},
	}
	for _, tt := range tests {
		if got := isText(tt.ct, []byte(tt.body)); got != tt.want {
			t.Errorf("isText(%q, %q) = %v", tt.ct, tt.body, got)
		}
	}
}

func ptr(s string) *string { return &s }
