package openapi

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/clearanceapi"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/logging"
	"github.com/pccc/pccc/shared/testkit"
)

// The clearance check's answers, from the real endpoint behind the key
// check as clearanceapi.BuildCheck wires them (apikey.Require around
// clearanceapi.Endpoint) and through httpapi's handler, held to what the
// document says of the route. The table behind it is faked: one live
// holder, registered with the details of the document's example.

var checkNow = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

type checkKeys map[string]apikey.Record

func (k checkKeys) Key(_ context.Context, id string) (apikey.Record, error) {
	if r, ok := k[id]; ok {
		return r, nil
	}
	return apikey.Record{}, apikey.ErrNoKey
}

// checkTable has one holder, whose code is live.
type checkTable struct{ holder dynamo.Holder }

func (s checkTable) CodeOwner(_ context.Context, code string) (string, string, error) {
	if code == s.holder.Code {
		return s.holder.Key, dynamo.CodeLive, nil
	}
	return "", "", holder.ErrNoHolder
}

func (s checkTable) Holder(_ context.Context, hk string) (dynamo.Holder, error) {
	if hk == s.holder.Key {
		return s.holder, nil
	}
	return dynamo.Holder{}, holder.ErrNoHolder
}

// plainSealer seals nothing: a sealed value is its plaintext.
type plainSealer struct{}

func (plainSealer) Open(_, sealed string) ([]byte, error)   { return []byte(sealed), nil }
func (plainSealer) Seal(_ string, p []byte) (string, error) { return string(p), nil }

// checkLimiter refuses the counters starting with spent, or fails with err.
type checkLimiter struct {
	spent string
	err   error
}

func (l checkLimiter) Allow(_ context.Context, key string, _ int, _ time.Duration) (bool, time.Duration, error) {
	if l.err != nil {
		return false, 0, l.err
	}
	if l.spent != "" && strings.HasPrefix(key, l.spent) {
		return false, 37 * time.Second, nil
	}
	return true, 0, nil
}

type checkRecords struct{}

func (checkRecords) Record(context.Context, dynamo.Check) error { return nil }
func (checkRecords) CountMismatch(context.Context, string, string, time.Time) (int64, error) {
	return 1, nil
}

// checkOperation returns the document's POST /v1/clearance/checks.
func checkOperation(t *testing.T, d doc) map[string]any {
	t.Helper()
	for _, op := range d.operations(t) {
		if op.key == clearanceapi.RouteCheck {
			return op.op
		}
	}
	t.Fatalf("openapi.json does not describe %s", clearanceapi.RouteCheck)
	return nil
}

// checkResultShape checks a 200 body against the document's CheckResult:
// exactly its members, result one of its enum, checkId its pattern. It
// returns the result.
func checkResultShape(t *testing.T, d doc, what string, body map[string]any) string {
	t.Helper()
	s := schema(t, d, "CheckResult")
	props := obj(s["properties"])
	if !reflect.DeepEqual(keys(body), keys(props)) || !reflect.DeepEqual(keys(body), required(s)) {
		t.Errorf("%s: answers %v; CheckResult has %v and requires %v", what, keys(body), keys(props), required(s))
	}
	result, _ := body["result"].(string)
	if !slices.Contains(enum(t, obj(props["result"])), result) {
		t.Errorf("%s: result %q is not one of CheckResult.result %v", what, result, enum(t, obj(props["result"])))
	}
	pattern, _ := obj(props["checkId"])["pattern"].(string)
	if id, _ := body["checkId"].(string); !regexp.MustCompile(pattern).MatchString(id) {
		t.Errorf("%s: checkId %q does not match %s", what, id, pattern)
	}
	return result
}

func TestCheckAnswersMatchDocument(t *testing.T) {
	d := load(t)
	op := checkOperation(t, d)
	responses := obj(op["responses"])
	example := at(t, op, "requestBody", "content", "application/json", "example")
	exampleBody, _ := json.Marshal(example)
	code, _ := obj(example)["code"].(string)

	key, rec, err := apikey.New("ACME Customs", 100, checkNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	revoked, revokedRec, err := apikey.New("Former Broker", 100, checkNow, nil)
	if err != nil {
		t.Fatal(err)
	}
	revokedRec.Revoked, revokedRec.RevokedAt = true, checkNow
	keys := checkKeys{rec.ID: rec, revokedRec.ID: revokedRec}
	// The holder registered the example's name, phone and zip.
	registered := holder.Details{EnglishName: "HONG GILDONG", KoreanName: "홍길동", Phone: "01000000001",
		Addresses: []holder.Address{{Zip: "04524", Address: "Sejong-daero 110"}}}
	table := checkTable{holder: dynamo.Holder{Key: strings.Repeat("ab", 32), Code: code, Status: string(holder.Active),
		ExpiresAt: checkNow.AddDate(1, 0, 0), Sealed: registered.Fields()}}

	other, _ := json.Marshal(map[string]any{"code": "P000000000000", "name": obj(example)["name"],
		"phone": obj(example)["phone"], "zip": obj(example)["zip"]})
	unknownMember := strings.Replace(string(exampleBody), "{", `{"extra":1,`, 1)
	busy := apperr.New(apperr.Overloaded, "The service is busy. Please try again shortly.").WithRetryAfter(2 * time.Second)
	tests := []struct {
		name, auth, body string
		limiter          checkLimiter
		status           int
	}{
		{"the example, as the holder registered it", "ApiKey " + key, string(exampleBody), checkLimiter{}, 200},
		{"the example with another code", "ApiKey " + key, string(other), checkLimiter{}, 200},
		{"no key", "", string(exampleBody), checkLimiter{}, 401},
		{"a revoked key", "ApiKey " + revoked, string(exampleBody), checkLimiter{}, 401},
		{"a session token", "Bearer " + key, string(exampleBody), checkLimiter{}, 401},
		{"an unknown member", "ApiKey " + key, unknownMember, checkLimiter{}, 400},
		{"the key's rate spent", "ApiKey " + key, string(exampleBody), checkLimiter{spent: "clearance#key#"}, 429},
		{"the code's rate spent", "ApiKey " + key, string(exampleBody), checkLimiter{spent: "clearance#code#"}, 429},
		{"the table throttling", "ApiKey " + key, string(exampleBody), checkLimiter{err: busy}, 503},
		{"the table failing", "ApiKey " + key, string(exampleBody), checkLimiter{err: errors.New("connection reset")}, 500},
	}
	results := []string{}
	for _, tt := range tests {
		c, err := clearanceapi.NewChecker(clearanceapi.Checker{Codes: table, Holders: table, Sealer: plainSealer{},
			Limiter: tt.limiter, Records: checkRecords{}, Log: logging.New(&testkit.Buffer{}, "debug"),
			Now: func() time.Time { return checkNow }, PerCodePerHour: 10})
		if err != nil {
			t.Fatal(err)
		}
		h := httpapi.Handler(logging.New(&testkit.Buffer{}, "debug"), httpapi.Routes{
			clearanceapi.RouteCheck: apikey.Require(keys, clearanceapi.Endpoint(c)),
		})
		headers := map[string]string{"content-type": "application/json"}
		if tt.auth != "" {
			headers["authorization"] = tt.auth
		}
		ev := events.APIGatewayV2HTTPRequest{RouteKey: clearanceapi.RouteCheck, Headers: headers, Body: tt.body}
		ev.RequestContext.RequestID = "Zy9XwVuTsRqPoNm="
		resp, err := h(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, resp.Body, tt.status)
			continue
		}
		documented := d.deref(t, responses[strconv.Itoa(resp.StatusCode)])
		if documented == nil {
			t.Errorf("%s: answered %d, which the document does not list", tt.name, resp.StatusCode)
			continue
		}
		if resp.Headers["X-Request-Id"] == "" {
			t.Errorf("%s: no X-Request-Id", tt.name)
		}
		retry, declared := resp.Headers["Retry-After"], obj(documented["headers"])["Retry-After"] != nil
		if secs, err := strconv.Atoi(retry); declared && (err != nil || secs < 1) || !declared && retry != "" {
			t.Errorf("%s: Retry-After %q; the document declares it: %v", tt.name, retry, declared)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if resp.StatusCode == 200 {
			results = append(results, checkResultShape(t, d, tt.name, body))
			continue
		}
		got, _ := obj(body["error"])["code"].(string)
		if !slices.Contains(errorCodes(documented), got) || body["requestId"] != ev.RequestContext.RequestID {
			t.Errorf("%s: %d %s; the document lists codes %v", tt.name, resp.StatusCode, resp.Body, errorCodes(documented))
		}
	}
	// The example as registered matches, another code does not: the
	// endpoint answers each value of the enum.
	if want := enum(t, obj(at(t, schema(t, d, "CheckResult"), "properties", "result"))); !reflect.DeepEqual(results, want) {
		t.Errorf("the checks answered %v, want %v in turn", results, want)
	}
	// The document's own 200 examples have the same shape.
	for name, ex := range obj(at(t, responses, "200", "content", "application/json", "examples")) {
		if got := checkResultShape(t, d, "example "+name, obj(obj(ex)["value"])); got != name {
			t.Errorf("the example named %s says %q", name, got)
		}
	}
}
