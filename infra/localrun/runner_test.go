package localrun

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/testkit"
)

const testTemplate = "testdata/template.yaml"

// sqsLog records what the queue functions were given.
type sqsLog struct {
	mu       sync.Mutex
	receives map[string]int // body -> deliveries
	records  map[string]events.SQSMessage
}

func (l *sqsLog) add(recs []events.SQSMessage) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range recs {
		l.receives[r.Body]++
		l.records[r.Body] = r
	}
}

func (l *sqsLog) count(body string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.receives[body]
}

func (l *sqsLog) record(body string) events.SQSMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records[body]
}

// testRegistry holds the functions of testdata/template.yaml.
func testRegistry(worker *sqsLog) map[string]platform.Builder {
	return map[string]platform.Builder{
		// echo answers with the event it was given and its environment;
		// ?mode= makes it misbehave in the ways API Gateway must survive.
		"echo": func(ctx context.Context, d platform.Deps) (any, error) {
			if !d.Config.Local() {
				return nil, errors.New("config is not local")
			}
			env := map[string]string{}
			for _, k := range []string{"TABLE_NAME", "PCCC_ENV", "BUREAU_URL", "DEV_SECRET",
				"GREETING", "OVERRIDDEN", "EXTRA", "JOBS_URL", "JOBS_ARN", "JOBS_NAME", "TABLE_ARN", "EXPORTS", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME"} {
				env[k] = d.Getenv(k)
			}
			return func(ctx context.Context, raw json.RawMessage) (any, error) {
				var ev events.APIGatewayV2HTTPRequest
				if err := json.Unmarshal(raw, &ev); err != nil {
					return nil, err
				}
				lc, _ := lambdacontext.FromContext(ctx)
				_, hasDeadline := ctx.Deadline()
				switch ev.QueryStringParameters["mode"] {
				case "panic":
					panic("echo told to panic")
				case "error":
					return nil, errors.New("echo told to fail")
				case "raw":
					return map[string]string{"hello": "world"}, nil
				case "binary":
					return events.APIGatewayV2HTTPResponse{
						StatusCode: 201, IsBase64Encoded: true, Body: base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}),
						Headers: map[string]string{"Content-Type": "application/octet-stream"}, Cookies: []string{"a=1; Path=/", "b=2"},
					}, nil
				}
				body, _ := json.Marshal(map[string]any{"event": ev, "env": env, "lambdaRequestId": lc.AwsRequestID, "deadline": hasDeadline})
				return events.APIGatewayV2HTTPResponse{
					StatusCode: 200, Body: string(body),
					Headers: map[string]string{"Content-Type": "application/json", "Access-Control-Allow-Origin": "http://evil.example"},
				}, nil
			}, nil
		},
		// worker fails every message whose body starts with "fail".
		"worker": func(ctx context.Context, d platform.Deps) (any, error) {
			return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				worker.add(ev.Records)
				var resp events.SQSEventResponse
				for _, r := range ev.Records {
					if strings.HasPrefix(r.Body, "fail") {
						resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
					}
				}
				return resp, nil
			}, nil
		},
		// poison never succeeds: it panics or returns an error.
		"poison": func(ctx context.Context, d platform.Deps) (any, error) {
			return func(ctx context.Context, ev events.SQSEvent) error {
				worker.add(ev.Records)
				if ev.Records[0].Body == "panic" {
					panic("poison message")
				}
				return errors.New("cannot process")
			}, nil
		},
		// tick answers with the event it was given.
		"tick": func(ctx context.Context, d platform.Deps) (any, error) {
			return func(ctx context.Context, raw json.RawMessage) (json.RawMessage, error) { return raw, nil }, nil
		},
	}
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func do(t *testing.T, method, url string, header http.Header, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// echoed decodes echo's answer.
func echoed(t *testing.T, r reply) (events.APIGatewayV2HTTPRequest, map[string]string) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out struct {
		Event           events.APIGatewayV2HTTPRequest
		Env             map[string]string
		LambdaRequestID string `json:"lambdaRequestId"`
		Deadline        bool
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatal(err)
	}
	if out.LambdaRequestID == "" || !out.Deadline {
		t.Errorf("no Lambda context (%q) or no deadline (%v)", out.LambdaRequestID, out.Deadline)
	}
	return out.Event, out.Env
}

func TestRunner(t *testing.T) {
	eachStack(t, func(t *testing.T, stack *localstack.Stack) {
		seen := &sqsLog{receives: map[string]int{}, records: map[string]events.SQSMessage{}}
		runLog := &testkit.Buffer{}
		r := startRunner(t, Options{
			TemplatePath: testTemplate, Stack: stack, Registry: testRegistry(seen), Log: runLog,
			Getenv: mapEnv(map[string]string{"OVERRIDDEN": "from the caller", "EXTRA": "only the caller", "AWS_REGION": "us-east-1"}),
		})
		base := r.URL()
		clients := must(stack.Clients(context.Background()))

		t.Run("payload 2.0 event", func(t *testing.T) {
			h := http.Header{"X-Multi": {"one", "two"}, "Cookie": {"s=1; t=2"}, "User-Agent": {"pccc-test/1"}}
			ev, _ := echoed(t, do(t, "GET", base+"/v1/things/42?a=1&a=2&b=x%20y", h, ""))
			checks := []struct {
				name      string
				got, want any
			}{
				{"version", ev.Version, "2.0"},
				{"routeKey", ev.RouteKey, "GET /v1/things/{id}"},
				{"rawPath", ev.RawPath, "/v1/things/42"},
				{"rawQueryString", ev.RawQueryString, "a=1&a=2&b=x%20y"},
				{"query a", ev.QueryStringParameters["a"], "1,2"},
				{"query b", ev.QueryStringParameters["b"], "x y"},
				{"path id", ev.PathParameters["id"], "42"},
				{"multi-value header", ev.Headers["x-multi"], "one,two"},
				{"user agent header", ev.Headers["user-agent"], "pccc-test/1"},
				{"no cookie header", ev.Headers["cookie"], ""},
				{"cookies", strings.Join(ev.Cookies, "|"), "s=1|t=2"},
				{"x-forwarded-for", ev.Headers["x-forwarded-for"], "127.0.0.1"},
				{"body", ev.Body, ""},
				{"context routeKey", ev.RequestContext.RouteKey, "GET /v1/things/{id}"},
				{"stage", ev.RequestContext.Stage, "$default"},
				{"account", ev.RequestContext.AccountID, localstack.AccountID},
				{"apiId", ev.RequestContext.APIID, "api"},
				{"method", ev.RequestContext.HTTP.Method, "GET"},
				{"path", ev.RequestContext.HTTP.Path, "/v1/things/42"},
				{"sourceIp", ev.RequestContext.HTTP.SourceIP, "127.0.0.1"},
				{"userAgent", ev.RequestContext.HTTP.UserAgent, "pccc-test/1"},
				{"protocol", ev.RequestContext.HTTP.Protocol, "HTTP/1.1"},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			if ev.RequestContext.RequestID == "" || time.Since(time.UnixMilli(ev.RequestContext.TimeEpoch)) > time.Minute {
				t.Errorf("requestId %q, timeEpoch %d", ev.RequestContext.RequestID, ev.RequestContext.TimeEpoch)
			}
			again, _ := echoed(t, do(t, "GET", base+"/v1/things/42", nil, ""))
			if again.RequestContext.RequestID == ev.RequestContext.RequestID {
				t.Error("two requests got the same requestId")
			}
		})

		t.Run("route matching", func(t *testing.T) {
			tests := []struct {
				method, path, routeKey string
				params                 map[string]string
			}{
				{"GET", "/v1/things/mine", "GET /v1/things/mine", nil},
				{"GET", "/v1/things/7", "GET /v1/things/{id}", map[string]string{"id": "7"}},
				{"POST", "/v1/things", "POST /v1/things", nil},
				{"GET", "/files/a/b/c.txt", "ANY /files/{proxy+}", map[string]string{"proxy": "a/b/c.txt"}},
				{"DELETE", "/files/x", "ANY /files/{proxy+}", map[string]string{"proxy": "x"}},
			}
			for _, tt := range tests {
				ev, _ := echoed(t, do(t, tt.method, base+tt.path, nil, ""))
				if ev.RouteKey != tt.routeKey || len(ev.PathParameters) != len(tt.params) {
					t.Errorf("%s %s: route %q params %v, want %q %v", tt.method, tt.path, ev.RouteKey, ev.PathParameters, tt.routeKey, tt.params)
				}
				for k, v := range tt.params {
					if ev.PathParameters[k] != v {
						t.Errorf("%s %s: param %s = %q, want %q", tt.method, tt.path, k, ev.PathParameters[k], v)
					}
				}
			}
		})

		t.Run("no route is a 404 in the API's error shape", func(t *testing.T) {
			for _, tt := range []struct{ method, path string }{{"GET", "/v1/nothing"}, {"DELETE", "/v1/things"}, {"GET", "/files"}, {"GET", "/v1/things/1/2"}} {
				rep := do(t, tt.method, base+tt.path, nil, "")
				if rep.status != 404 {
					t.Errorf("%s %s: status %d", tt.method, tt.path, rep.status)
					continue
				}
				m := rep.json(t)
				e, _ := m["error"].(map[string]any)
				if e["code"] != "NOT_FOUND" || m["requestId"] == "" || m["requestId"] != rep.header.Get("X-Request-Id") {
					t.Errorf("%s %s: body %s, X-Request-Id %q", tt.method, tt.path, rep.body, rep.header.Get("X-Request-Id"))
				}
			}
		})

		t.Run("bodies", func(t *testing.T) {
			bin := string([]byte{0xff, 0x00, 0x10})
			tests := []struct {
				name, contentType, body string
				base64                  bool
			}{
				{"json is text", "application/json", `{"a":"한글"}`, false},
				{"form is text", "application/x-www-form-urlencoded", "a=1", false},
				{"no type, valid UTF-8", "", "plain", false},
				{"octet-stream is binary", "application/octet-stream", "abc", true},
				{"invalid UTF-8 is binary", "text/plain", bin, true},
			}
			for _, tt := range tests {
				h := http.Header{}
				if tt.contentType != "" {
					h.Set("Content-Type", tt.contentType)
				}
				ev, _ := echoed(t, do(t, "POST", base+"/v1/things", h, tt.body))
				got := ev.Body
				if ev.IsBase64Encoded {
					got = string(must(base64.StdEncoding.DecodeString(ev.Body)))
				}
				if ev.IsBase64Encoded != tt.base64 || got != tt.body {
					t.Errorf("%s: isBase64Encoded %v body %q", tt.name, ev.IsBase64Encoded, ev.Body)
				}
			}
			big := do(t, "POST", base+"/v1/things", nil, strings.Repeat("x", MaxBodyBytes+1))
			if big.status != http.StatusRequestEntityTooLarge {
				t.Errorf("over MaxBodyBytes: status %d", big.status)
			}
		})

		t.Run("responses", func(t *testing.T) {
			bin := do(t, "GET", base+"/v1/things/1?mode=binary", nil, "")
			if bin.status != 201 || string(bin.body) != string([]byte{0, 1, 2, 255}) || bin.header.Get("Content-Type") != "application/octet-stream" ||
				strings.Join(bin.header.Values("Set-Cookie"), "|") != "a=1; Path=/|b=2" {
				t.Errorf("binary: %d %q %v", bin.status, bin.body, bin.header)
			}
			raw := do(t, "GET", base+"/v1/things/1?mode=raw", nil, "")
			if raw.status != 200 || string(raw.body) != `{"hello":"world"}` || raw.header.Get("Content-Type") != "application/json" {
				t.Errorf("raw: %d %q %v", raw.status, raw.body, raw.header)
			}
			for _, mode := range []string{"error", "panic"} {
				rep := do(t, "GET", base+"/v1/things/1?mode="+mode, nil, "")
				if rep.status != 500 || strings.TrimSpace(string(rep.body)) != `{"message":"Internal Server Error"}` {
					t.Errorf("%s: %d %s", mode, rep.status, rep.body)
				}
			}
			if !strings.Contains(runLog.String(), "echo told to panic") {
				t.Error("the panic is not in the runner log")
			}
			if h := do(t, "GET", base+"/healthz", nil, ""); h.status != 200 || string(h.body) != `{"status":"ok"}` {
				t.Errorf("healthz after a panic: %d %s", h.status, h.body)
			}
		})

		t.Run("CORS", func(t *testing.T) {
			pre := do(t, "OPTIONS", base+"/v1/things", http.Header{"Origin": {"http://localhost:3000"}, "Access-Control-Request-Method": {"POST"}}, "")
			if pre.status != 204 || pre.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
				pre.header.Get("Access-Control-Allow-Methods") != "GET,POST" || pre.header.Get("Access-Control-Allow-Headers") != "content-type,idempotency-key" ||
				pre.header.Get("Access-Control-Max-Age") != "600" {
				t.Errorf("preflight: %d %v", pre.status, pre.header)
			}
			got := do(t, "GET", base+"/v1/things/1", http.Header{"Origin": {"http://localhost:3000"}}, "")
			if got.header.Get("Access-Control-Allow-Origin") != "http://localhost:3000" || got.header.Get("Access-Control-Expose-Headers") != "X-Request-Id" {
				t.Errorf("actual request: %v (the function's own CORS header must be ignored)", got.header)
			}
			other := do(t, "GET", base+"/v1/things/1", http.Header{"Origin": {"http://evil.example"}}, "")
			if v := other.header.Get("Access-Control-Allow-Origin"); v != "" {
				t.Errorf("disallowed origin got Access-Control-Allow-Origin %q", v)
			}
		})

		t.Run("environment", func(t *testing.T) {
			_, env := echoed(t, do(t, "GET", base+"/v1/things/1", nil, ""))
			jobs := r.names.queues["Jobs"]
			want := map[string]string{
				"TABLE_NAME": r.names.prefix + "Table", "PCCC_ENV": "local", "BUREAU_URL": base + "/_local/bureau",
				"GREETING":   "hello from " + stack.Region,
				"OVERRIDDEN": "from the caller", "EXTRA": "only the caller",
				"JOBS_URL": jobs.url, "JOBS_ARN": jobs.arn, "JOBS_NAME": r.names.prefix + "Jobs",
				"TABLE_ARN": "arn:aws:dynamodb:" + stack.Region + ":" + localstack.AccountID + ":table/" + r.names.prefix + "Table",
				"EXPORTS":   r.names.prefix + "exports", "AWS_REGION": stack.Region, "AWS_LAMBDA_FUNCTION_NAME": r.names.prefix + "EchoFunction",
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			if !strings.HasPrefix(jobs.url, stack.SQSEndpoint) || !strings.HasSuffix(jobs.arn, ":"+r.names.prefix+"Jobs") {
				t.Errorf("Jobs queue %+v", jobs)
			}
			if k, err := base64.StdEncoding.DecodeString(env["DEV_SECRET"]); err != nil || len(k) != 32 {
				t.Errorf("DEV_SECRET is not base64 of 32 bytes")
			}
		})

		t.Run("local helpers", func(t *testing.T) {
			bureau := do(t, "POST", base+"/_local/bureau/v1/realname", http.Header{"Content-Type": {"application/json"}}, `{"name":"NOBODY","rrn":"0000000000000"}`)
			if bureau.status == 404 || bureau.status >= 500 {
				t.Errorf("bureau simulator: %d %s", bureau.status, bureau.body)
			}
			r.Outbox().Add("01000000001", "code 123456", time.Now())
			sms := do(t, "GET", base+"/_local/sms?phone=01000000001", nil, "")
			if sms.status != 200 || !strings.Contains(string(sms.body), "code 123456") {
				t.Errorf("outbox: %d %s", sms.status, sms.body)
			}
		})

		t.Run("schedules", func(t *testing.T) {
			rep := do(t, "POST", base+"/_local/schedules/TickFunctionTick", nil, "")
			var out struct {
				Schedule, Function string
				Result             events.CloudWatchEvent
			}
			if err := json.Unmarshal(rep.body, &out); err != nil || rep.status != 200 {
				t.Fatalf("trigger: %d %s", rep.status, rep.body)
			}
			ev := out.Result
			if out.Function != "TickFunction" || ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" || ev.Version != "0" ||
				ev.AccountID != localstack.AccountID || ev.Region != stack.Region || len(ev.ID) != 36 || string(ev.Detail) != "{}" ||
				len(ev.Resources) != 1 || !strings.HasPrefix(ev.Resources[0], "arn:aws:events:"+stack.Region+":") {
				t.Errorf("scheduled event: %+v", out)
			}
			nightly := do(t, "POST", base+"/_local/schedules/TickFunctionNightly", nil, "")
			if !strings.Contains(string(nightly.body), `"result":{"kind":"nightly"}`) {
				t.Errorf("schedule with Input: %d %s", nightly.status, nightly.body)
			}
			if none := do(t, "POST", base+"/_local/schedules/Nope", nil, ""); none.status != 404 {
				t.Errorf("unknown schedule: %d", none.status)
			}
		})

		t.Run("SQS partial batch failures and redrive", func(t *testing.T) {
			t.Parallel() // separate queues; the waits on redrive overlap
			ctx := context.Background()
			jobs, dlq := r.names.queues["Jobs"], r.names.queues["JobsDLQ"]
			bodies := []string{"ok-1", "ok-2", "ok-3", "fail-1", "fail-2"}
			for _, b := range bodies {
				_, err := clients.SQS.SendMessage(ctx, &sqs.SendMessageInput{
					QueueUrl: aws.String(jobs.url), MessageBody: aws.String(b),
					MessageAttributes: map[string]sqstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("test")}},
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			// Failed messages come back after the 1 s visibility timeout
			// and, after maxReceiveCount (3), land in the DLQ.
			var dead []string
			eventually(t, 30*time.Second, "both failing messages in the DLQ", func() bool {
				out, err := clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq.url), MaxNumberOfMessages: 10})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range out.Messages {
					dead = append(dead, aws.ToString(m.Body))
					_, _ = clients.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq.url), ReceiptHandle: m.ReceiptHandle})
				}
				return len(dead) >= 2
			})
			if strings.Join(dead, ",") != "fail-1,fail-2" && strings.Join(dead, ",") != "fail-2,fail-1" {
				t.Errorf("DLQ holds %v", dead)
			}
			for _, b := range []string{"ok-1", "ok-2", "ok-3"} {
				if n := seen.count(b); n != 1 {
					t.Errorf("%s delivered %d times, want once (it succeeded and must be deleted)", b, n)
				}
			}
			for _, b := range []string{"fail-1", "fail-2"} {
				if n := seen.count(b); n < 2 || n > 3 {
					t.Errorf("%s delivered %d times, want 2-3 (maxReceiveCount 3)", b, n)
				}
			}
			rec := seen.record("ok-1")
			sum := md5.Sum([]byte("ok-1"))
			if rec.EventSource != "aws:sqs" || rec.EventSourceARN != jobs.arn || rec.AWSRegion != stack.Region ||
				rec.Md5OfBody != hex.EncodeToString(sum[:]) || rec.MessageId == "" || rec.ReceiptHandle == "" ||
				rec.Attributes["ApproximateReceiveCount"] != "1" || aws.ToString(rec.MessageAttributes["kind"].StringValue) != "test" ||
				rec.MessageAttributes["kind"].DataType != "String" {
				t.Errorf("SQS record: %+v", rec)
			}
		})

		t.Run("poison messages end in the DLQ", func(t *testing.T) {
			t.Parallel() // separate queues; the waits on redrive overlap
			ctx := context.Background()
			q, dlq := r.names.queues["Poison"], r.names.queues["PoisonDLQ"]
			for _, b := range []string{"panic", "error"} {
				if _, err := clients.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(b)}); err != nil {
					t.Fatal(err)
				}
			}
			var dead []string
			eventually(t, 30*time.Second, "poison messages in the DLQ", func() bool {
				out, err := clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq.url), MaxNumberOfMessages: 10})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range out.Messages {
					dead = append(dead, aws.ToString(m.Body))
					_, _ = clients.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq.url), ReceiptHandle: m.ReceiptHandle})
				}
				return len(dead) >= 2
			})
			if n := seen.count("panic"); n < 1 || n > 2 {
				t.Errorf("panic message delivered %d times, want 1-2 (maxReceiveCount 2)", n)
			}
			if !strings.Contains(runLog.String(), "poison message") {
				t.Error("the poller did not log the panic")
			}
		})
	})
}

// Close stops every poller and schedule: a message sent afterwards stays in
// the queue, and nothing serves HTTP any more.
func TestClose(t *testing.T) {
	eachStack(t, func(t *testing.T, stack *localstack.Stack) {
		seen := &sqsLog{receives: map[string]int{}, records: map[string]events.SQSMessage{}}
		r, err := New(context.Background(), Options{
			TemplatePath: testTemplate, Stack: stack, Registry: testRegistry(seen), Addr: "127.0.0.1:0", NamePrefix: uniquePrefix(t),
		})
		if err != nil {
			t.Fatal(err)
		}
		// Jobs: MaximumConcurrency 2; Poison: the default 2; two schedules.
		if n := r.active.Load(); n != 2+2+2 {
			t.Errorf("%d pollers and schedules running, want 6", n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		start := time.Now()
		if err := r.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Close took %s", d)
		}
		if n := r.active.Load(); n != 0 {
			t.Fatalf("%d pollers or schedules still running after Close", n)
		}
		clients := must(stack.Clients(ctx))
		jobs := r.names.queues["Jobs"]
		if _, err := clients.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(jobs.url), MessageBody: aws.String("after-close")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		out, err := clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(jobs.url), WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) != 1 || seen.count("after-close") != 0 {
			t.Errorf("after Close: queue gave %d messages, the function saw it %d times", len(out.Messages), seen.count("after-close"))
		}
		if _, err := http.Get(r.URL() + "/healthz"); err == nil {
			t.Error("still serving HTTP after Close")
		}
		if err := r.Close(ctx); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func TestNewErrors(t *testing.T) {
	stack := stackFor(t, localstack.Embedded)
	seen := &sqsLog{receives: map[string]int{}, records: map[string]events.SQSMessage{}}
	partial := testRegistry(seen)
	delete(partial, "tick")
	failing := testRegistry(seen)
	failing["echo"] = func(context.Context, platform.Deps) (any, error) { return nil, errors.New("no keys") }
	notHandler := testRegistry(seen)
	notHandler["echo"] = func(context.Context, platform.Deps) (any, error) { return 42, nil }
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"function missing from the registry", Options{TemplatePath: testTemplate, Registry: partial}, `names "tick", which the function registry does not have`},
		{"builder fails", Options{TemplatePath: testTemplate, Registry: failing}, "EchoFunction: build: no keys"},
		{"builder returns no handler", Options{TemplatePath: testTemplate, Registry: notHandler}, "returned int, not a Lambda handler"},
		{"bad residents file", Options{TemplatePath: testTemplate, Registry: testRegistry(seen), Getenv: mapEnv(map[string]string{ResidentsEnv: "/nonexistent.json"})}, ResidentsEnv},
		{"missing template", Options{TemplatePath: "testdata/none.yaml"}, "none.yaml"},
		{"no stack", Options{TemplatePath: testTemplate, Stack: nil}, "Stack is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			if tt.name != "no stack" {
				o.Stack = stack
			}
			o.Addr, o.NamePrefix = "127.0.0.1:0", uniquePrefix(t)
			r, err := New(context.Background(), o)
			if err == nil {
				_ = r.Close(context.Background())
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestMaxPollers: the cap holds every event source to it, whatever the
// template's MaximumConcurrency or the default.
func TestMaxPollers(t *testing.T) {
	eachStack(t, func(t *testing.T, stack *localstack.Stack) {
		seen := &sqsLog{receives: map[string]int{}, records: map[string]events.SQSMessage{}}
		r, err := New(context.Background(), Options{
			TemplatePath: testTemplate, Stack: stack, Registry: testRegistry(seen), Addr: "127.0.0.1:0", NamePrefix: uniquePrefix(t),
			MaxPollers: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		defer func() { _ = r.Close(ctx) }()
		// Jobs (MaximumConcurrency 2) and Poison (the default 2) get one
		// poller each; the two schedules are not pollers.
		if n := r.active.Load(); n != 1+1+2 {
			t.Errorf("%d pollers and schedules running, want 4", n)
		}
		inv, err := r.Inventory(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, es := range inv.EventSources {
			if es.Pollers != 1 {
				t.Errorf("%s: %d pollers, want 1", es.Queue, es.Pollers)
			}
		}
	})
}

// TestSplitRunners: a runner without pollers and one without schedules on
// the same stack and name prefix are one system in two parts: the first
// fires only its schedules and leaves the queues alone, the second polls
// them, so a message sent while only the first runs waits for the second.
func TestSplitRunners(t *testing.T) {
	eachStack(t, func(t *testing.T, stack *localstack.Stack) {
		seen := &sqsLog{receives: map[string]int{}, records: map[string]events.SQSMessage{}}
		prefix := uniquePrefix(t)
		api := startRunner(t, Options{TemplatePath: testTemplate, Stack: stack, Registry: testRegistry(seen), NamePrefix: prefix, NoPollers: true})
		// The two schedules only.
		if n := api.active.Load(); n != 2 {
			t.Errorf("runner without pollers: %d pollers and schedules running, want 2", n)
		}
		ctx := context.Background()
		clients := must(stack.Clients(ctx))
		jobs := api.names.queues["Jobs"]
		if _, err := clients.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(jobs.url), MessageBody: aws.String("split")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if n := seen.count("split"); n != 0 {
			t.Fatalf("a runner without pollers delivered the message %d times", n)
		}
		workers := startRunner(t, Options{TemplatePath: testTemplate, Stack: stack, Registry: testRegistry(seen), NamePrefix: prefix, NoSchedules: true})
		// Jobs' 2 and Poison's 2 pollers, no schedule.
		if n := workers.active.Load(); n != 2+2 {
			t.Errorf("runner without schedules: %d pollers and schedules running, want 4", n)
		}
		eventually(t, 10*time.Second, "the second runner to deliver the message", func() bool { return seen.count("split") == 1 })
	})
}
