package identityapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/keyhash"
	"github.com/pccc/pccc/shared/logging"
	"github.com/pccc/pccc/shared/sealer"
	"github.com/pccc/pccc/shared/testkit"
)

var testNow = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// fakeBureau knows people by registration digits and NameKey.
type fakeBureau struct {
	mu    sync.Mutex
	known map[string]string
	err   error
	calls int
}

func (f *fakeBureau) Match(_ context.Context, name string, rrn identity.RRN) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return false, f.err
	}
	want, ok := f.known[rrn.Digits()]
	return ok && want == name, nil
}

type memStore struct {
	mu  sync.Mutex
	m   map[string]identity.Verification
	err error
}

func (s *memStore) Put(_ context.Context, v identity.Verification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.m[v.ID] = v
	return nil
}

func (s *memStore) Unmatched(context.Context, time.Time) error { return nil }

func (s *memStore) Get(_ context.Context, id string) (identity.Verification, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok {
		return identity.Verification{}, identity.ErrNoVerification
	}
	return v, nil
}

type harness struct {
	handler httpapi.LambdaHandler
	logs    *testkit.Buffer
	bureau  *fakeBureau
	store   *memStore
	limiter *testkit.Counters
	spent   []string
	svc     *identity.Service
	hasher  *keyhash.Hasher
}

const (
	hongName = "HONG GILDONG"
	hongRRN  = "900101-1234568"
)

func newHarness(t testing.TB, adjust ...func(*identity.Options)) *harness {
	t.Helper()
	hasher, err := keyhash.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	seal, err := sealer.New(map[string][]byte{"k1": bytes.Repeat([]byte{9}, 32)}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{
		logs:    &testkit.Buffer{},
		bureau:  &fakeBureau{known: map[string]string{"9001011234568": "HONGGILDONG", "8804125123456": "SMITHJOHN"}},
		store:   &memStore{m: map[string]identity.Verification{}},
		limiter: testkit.NewCounters(func() time.Time { return testNow }),
		hasher:  hasher,
	}
	o := identity.Options{
		Bureau: h.bureau, Store: h.store, Limiter: h.limiter, Hasher: hasher, Sealer: seal,
		Watch: watchFunc(func(hk, day string) error { h.spent = append(h.spent, hk); return nil }),
		TTL:   10 * time.Minute, IPPerMinute: 30, PersonPerHour: 10, FailsPerAddress: 5, FailsPerDay: 20,
		Now: func() time.Time { return testNow },
	}
	for _, a := range adjust {
		a(&o)
	}
	h.svc, err = identity.NewService(o)
	if err != nil {
		t.Fatal(err)
	}
	h.handler = httpapi.Handler(logging.New(h.logs, "debug"), httpapi.Routes{RouteStartVerification: StartVerification(h.svc)})
	return h
}

// invoke runs the event through the Lambda runtime's own handler wrapper,
// JSON in and JSON out, as in AWS.
func (h *harness) invoke(t testing.TB, ev events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	out, err := lambda.NewHandler(h.handler).Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	if resp.Headers["X-Request-Id"] != ev.RequestContext.RequestID {
		t.Fatalf("X-Request-Id %q, want %q", resp.Headers["X-Request-Id"], ev.RequestContext.RequestID)
	}
	return resp
}

// post sends body on the standard fixture.
func (h *harness) post(t testing.TB, body string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ev := testkit.Event(t, "post-verifications.json")
	ev.Body = body
	return h.invoke(t, ev)
}

func body(name, rrn string) string {
	b, _ := json.Marshal(map[string]string{"name": name, "rrn": rrn})
	return string(b)
}

type errorBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
	RequestID string `json:"requestId"`
}

func decodeError(t testing.TB, resp events.APIGatewayV2HTTPResponse) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(resp.Body), &e); err != nil {
		t.Fatalf("error body %q: %v", resp.Body, err)
	}
	return e
}

func TestStartVerificationCreated(t *testing.T) {
	for _, fx := range []string{"post-verifications.json", "post-verifications-base64.json"} {
		t.Run(fx, func(t *testing.T) {
			h := newHarness(t)
			resp := h.invoke(t, testkit.Event(t, fx))
			if resp.StatusCode != 201 {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || len(got) != 3 {
				t.Fatalf("body %s", resp.Body)
			}
			id, _ := got["verificationId"].(string)
			if len(id) < 22 || got["nextStep"] != "sms" || got["expiresAt"] != "2026-12-01T09:10:00Z" {
				t.Fatalf("body %s", resp.Body)
			}
			v, err := h.svc.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if v.HolderKey != h.hasher.Sum(identity.PurposeHolder, "9001011234568") || v.Step != identity.StepSMS {
				t.Fatalf("stored %+v", v)
			}
			who, err := h.svc.OpenIdentity(v)
			if err != nil || who != (identity.Identity{Name: hongName, BirthDate: "19900101", Sex: "M"}) {
				t.Fatalf("sealed identity: %v", err)
			}
		})
	}
}

func TestWrongNameAndUnknownNumberAreIndistinguishable(t *testing.T) {
	h := newHarness(t)
	wrongName := h.post(t, body("HONG GILDONGG", hongRRN))
	unknown := h.post(t, body(hongName, "900101-1234567"))
	if wrongName.StatusCode != 422 || decodeError(t, wrongName).Error.Code != "VERIFICATION_FAILED" {
		t.Fatalf("wrong name: %d %s", wrongName.StatusCode, wrongName.Body)
	}
	// Both fixtures carry one request id, so the bodies must be identical
	// byte for byte, and so must every header.
	if wrongName.Body != unknown.Body || wrongName.StatusCode != unknown.StatusCode {
		t.Fatalf("bodies differ:\n%s\n%s", wrongName.Body, unknown.Body)
	}
	if len(wrongName.Headers) != len(unknown.Headers) {
		t.Fatalf("headers differ: %v %v", wrongName.Headers, unknown.Headers)
	}
	for k, v := range wrongName.Headers {
		if unknown.Headers[k] != v {
			t.Fatalf("header %s differs", k)
		}
	}
	if h.bureau.calls != 2 {
		t.Fatalf("bureau asked %d times, want once each", h.bureau.calls)
	}
	if len(h.store.m) != 0 {
		t.Fatal("a failed check stored a verification")
	}
}

func TestBadInputIsA400NamingTheField(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		header map[string]string
		fields []string
	}{
		{"malformed rrn", body(hongName, "12345"), nil, []string{"rrn"}},
		{"impossible date", body(hongName, "990231-1234567"), nil, []string{"rrn"}},
		{"future date", body(hongName, "991231-4234567"), nil, []string{"rrn"}},
		{"letter in rrn", body(hongName, "900101-A234567"), nil, []string{"rrn"}},
		{"digit in name", body("HONG 2", hongRRN), nil, []string{"name"}},
		{"both bad", body("", "x"), nil, []string{"name", "rrn"}},
		{"missing name", `{"rrn":"900101-1234568"}`, nil, []string{"name"}},
		{"null rrn", `{"name":"HONG GILDONG","rrn":null}`, nil, []string{"rrn"}},
		{"empty object", `{}`, nil, []string{"name", "rrn"}},
		{"unknown field", `{"name":"A","rrn":"900101-1234568","admin":true}`, nil, []string{"admin"}},
		{"wrong type", `{"name":1,"rrn":"900101-1234568"}`, nil, []string{"name"}},
		{"not JSON", `name=HONG`, nil, []string{"body"}},
		{"JSON array", `[]`, nil, []string{"body"}},
		{"empty body", ``, nil, []string{"body"}},
		{"trailing data", `{"name":"A","rrn":"900101-1234568"} {}`, nil, []string{"body"}},
		{"over 64 KiB", body(strings.Repeat("A", 70<<10), hongRRN), nil, []string{"body"}},
		{"form content type", `name=A`, map[string]string{"content-type": "application/x-www-form-urlencoded"}, []string{"Content-Type"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			ev := testkit.Event(t, "post-verifications.json")
			ev.Body = tt.body
			for k, v := range tt.header {
				ev.Headers[k] = v
			}
			resp := h.invoke(t, ev)
			e := decodeError(t, resp)
			if resp.StatusCode != 400 || e.Error.Code != "INVALID_ARGUMENT" || e.RequestID != ev.RequestContext.RequestID {
				t.Fatalf("status %d: %.300s", resp.StatusCode, resp.Body)
			}
			if len(e.Error.Fields) != len(tt.fields) {
				t.Fatalf("fields %v, want %v", e.Error.Fields, tt.fields)
			}
			for _, f := range tt.fields {
				if e.Error.Fields[f] == "" {
					t.Fatalf("fields %v do not name %q", e.Error.Fields, f)
				}
			}
			if h.bureau.calls != 0 {
				t.Fatal("bad input reached the bureau")
			}
		})
	}
}

type watchFunc func(holderKey, day string) error

func (f watchFunc) NumberFailuresSpent(_ context.Context, holderKey, day string) error {
	return f(holderKey, day)
}

func TestDependenciesFailingOrThrottling(t *testing.T) {
	tests := []struct {
		name       string
		adjust     func(o *identity.Options)
		setup      func(t *testing.T, h *harness)
		status     int
		code       string
		limit      string
		retryAfter string
	}{
		{name: "bureau down", setup: func(t *testing.T, h *harness) {
			h.bureau.err = &identity.UnavailableError{RetryAfter: 7 * time.Second, Err: errors.New("bureau circuit open")}
		}, status: 503, code: "OVERLOADED", retryAfter: "7"},
		// testNow is on the minute and the hour. A bound of 1 with 1 in
		// this slot has room again when the slot has aged out entirely:
		// two spans; the address and person bounds count the refused
		// request too.
		{name: "throttled per address", adjust: func(o *identity.Options) { o.IPPerMinute = 1 },
			setup:  func(t *testing.T, h *harness) { h.post(t, body("SMITH JOHN", "880412-5123456")) },
			status: 429, code: "RATE_LIMITED", limit: "address-rate", retryAfter: "120"},
		{name: "throttled per person", adjust: func(o *identity.Options) { o.PersonPerHour = 1 },
			setup: func(t *testing.T, h *harness) {
				ev := testkit.Event(t, "post-verifications.json")
				ev.Body, ev.RequestContext.HTTP.SourceIP = body(hongName, hongRRN), "198.51.100.9"
				h.invoke(t, ev)
			},
			status: 429, code: "RATE_LIMITED", limit: "person-verifications", retryAfter: "7200"},
		{name: "failures of the number from this address", adjust: func(o *identity.Options) { o.FailsPerAddress = 1 },
			setup:  func(t *testing.T, h *harness) { h.post(t, body("KIM NOBODY", hongRRN)) },
			status: 429, code: "TOO_MANY_ATTEMPTS", limit: "number-address-failures", retryAfter: "7200"},
		{name: "store fails", setup: func(t *testing.T, h *harness) { h.store.err = errors.New("dynamo exploded") }, status: 500, code: "INTERNAL"},
		{name: "bureau bug", setup: func(t *testing.T, h *harness) { h.bureau.err = errors.New("bureau answered HTTP 400") }, status: 500, code: "INTERNAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var adjust []func(*identity.Options)
			if tt.adjust != nil {
				adjust = append(adjust, tt.adjust)
			}
			h := newHarness(t, adjust...)
			tt.setup(t, h)
			calls := h.bureau.calls
			resp := h.post(t, body(hongName, hongRRN))
			e := decodeError(t, resp)
			var raw struct {
				Error struct {
					Limit string `json:"limit"`
				} `json:"error"`
			}
			_ = json.Unmarshal([]byte(resp.Body), &raw)
			if resp.StatusCode != tt.status || e.Error.Code != tt.code || raw.Error.Limit != tt.limit || resp.Headers["Retry-After"] != tt.retryAfter {
				t.Fatalf("got %d %s limit %q Retry-After %q: %s", resp.StatusCode, e.Error.Code, raw.Error.Limit, resp.Headers["Retry-After"], resp.Body)
			}
			if tt.status == 500 && (e.Error.Message != "Internal error." || strings.Contains(resp.Body, "exploded")) {
				t.Fatalf("500 body %s", resp.Body)
			}
			if tt.limit != "" && tt.limit != "person-verifications" && h.bureau.calls != calls {
				t.Fatal("a throttled request reached the bureau")
			}
		})
	}
}

// TestLogsHoldNoPersonalData drives every path with marker data and looks
// for it in the captured log output.
func TestLogsHoldNoPersonalData(t *testing.T) {
	const name, rrn = "QXMARKER ZEDWORTH", "770707-5987654"
	h := newHarness(t)
	h.bureau.known["7707075987654"] = "QXMARKERZEDWORTH"
	bodies := []string{
		body(name, rrn), body("qxmarker wrongname", rrn), body(name, rrn[:5]), body(name, "7707075987655"),
		`{"name":"QXMARKER ZEDWORTH","rrn":"770707-5987654","zedworth":1}`, `{"name":"QXMARKER`,
	}
	for _, b := range bodies {
		h.post(t, b)
	}
	h.bureau.err = &identity.UnavailableError{RetryAfter: time.Second, Err: errors.New("down")}
	h.post(t, body(name, rrn))
	h.bureau.err = nil
	h.store.err = errors.New("dynamo exploded")
	h.post(t, body(name, rrn))

	logs := h.logs.String()
	if strings.Count(logs, `"msg":"request"`) != len(bodies)+2 {
		t.Fatalf("expected one request line per call, logs: %s", logs)
	}
	for _, m := range []string{"QXMARKER", "ZEDWORTH", "qxmarker", "770707", "5987654", "7707075987654"} {
		if strings.Contains(logs, m) {
			t.Fatalf("log holds %q:\n%s", m, logs)
		}
	}
}
