package codeapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/idempotency"
	"github.com/pccc/pccc/shared/lifecycle"
	"github.com/pccc/pccc/shared/session"
)

// submitter is a small fake of our Submitter: it records commands.
type submitter struct {
	got      []lifecycle.Command
	err      error
	replayed bool
}

func (s *submitter) Submit(_ context.Context, hk string, c lifecycle.Command) (lifecycle.Receipt, error) {
	if s.err != nil {
		return lifecycle.Receipt{}, s.err
	}
	s.got = append(s.got, c)
	return lifecycle.Receipt{Request: holder.Request{ID: "req1", Owner: hk, Kind: string(c.Kind), Status: holder.RequestQueued}, Replayed: s.replayed}, nil
}

var key = []byte(strings.Repeat("s", 32))

func handler(t testing.TB, sub Submitter) (lambda.Handler, string) {
	iss, err := session.New(map[string][]byte{"k": key}, "k", time.Hour, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.Issue("holder-1", "v1")
	if err != nil {
		t.Fatal(err)
	}
	wrap := func(ep session.HolderEndpoint) httpapi.Endpoint { return session.RequireHolder(iss, ep) }
	h := httpapi.Handler(slog.New(slog.NewJSONHandler(io.Discard, nil)), httpapi.Routes{
		RouteIssue:   wrap(Issue(sub)),
		RouteReissue: wrap(Change(sub, holder.Reissue)),
		RouteSuspend: wrap(Change(sub, holder.Suspend)),
		RouteResume:  wrap(Change(sub, holder.Resume)),
		RouteCancel:  wrap(Change(sub, holder.Cancel)),
		RouteRenew:   wrap(Change(sub, holder.Renew)),
		RouteUpdate:  wrap(Update(sub)),
	})
	return lambda.NewHandler(h), tok
}

// invoke sends a real API Gateway payload-2.0 event through the Lambda
// handler and returns the status and decoded body.
func invoke(t testing.TB, h lambda.Handler, route, token, body string) (int, map[string]any) {
	method, path, _ := strings.Cut(route, " ")
	ev := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: route, RawPath: path, Body: body,
		Headers: map[string]string{"content-type": "application/json", "authorization": "Bearer " + token},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID: "r", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: method, Path: path, SourceIP: "203.0.113.1"},
		},
	}
	payload, _ := json.Marshal(ev)
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	_ = json.Unmarshal([]byte(resp.Body), &b)
	return resp.StatusCode, b
}

func TestCommandsAnswer202(t *testing.T) {
	sub := &submitter{}
	h, tok := handler(t, sub)
	issue := `{"englishName":"Hong Gildong","koreanName":"홍길동","nationality":"KR","addresses":[{"zip":"04524","address":"Sejong-daero 110"}],"phone":"01012345678","consent":true}`
	for _, tc := range []struct {
		route, body string
		kind        holder.Kind
		reason      string
	}{
		{RouteIssue, issue, holder.Issue, ""},
		{RouteReissue, `{"reason":"leak_concern"}`, holder.Reissue, "leak_concern"},
		{RouteSuspend, ``, holder.Suspend, ""},
		{RouteSuspend, `{"reason":"lost"}`, holder.Suspend, "lost"},
		{RouteResume, `{}`, holder.Resume, ""},
		{RouteCancel, ` `, holder.Cancel, ""},
		{RouteRenew, ``, holder.Renew, ""},
		{RouteUpdate, `{"email":"a@example.com"}`, holder.Update, ""},
	} {
		status, body := invoke(t, h, tc.route, tok, tc.body)
		if status != 202 || body["requestId"] != "req1" || body["statusUrl"] != "/v1/requests/req1" || body["status"] != "queued" {
			t.Errorf("%s %s: %d %v", tc.route, tc.body, status, body)
			continue
		}
		c := sub.got[len(sub.got)-1]
		if c.Kind != tc.kind || c.Reason != tc.reason {
			t.Errorf("%s: submitted %+v", tc.route, c)
		}
	}
	if f := sub.got[0].Fields; f["englishName"] != "HONG GILDONG" || f["phone"] != "01012345678" || !strings.Contains(f["addresses"], "04524") {
		t.Errorf("issue fields %v", f)
	}
}

func TestCommandRefusals(t *testing.T) {
	h, tok := handler(t, &submitter{})
	for _, tc := range []struct {
		route, token, body string
		status             int
		field              string
	}{
		{RouteIssue, "", `{}`, 401, ""},
		{RouteIssue, "garbage", `{}`, 401, ""},
		{RouteIssue, "T", `[]`, 400, "body"},
		{RouteIssue, "T", `{"consent":"yes"}`, 400, "consent"},
		{RouteIssue, "T", `{"admin":true}`, 400, "admin"},
		{RouteReissue, "T", ``, 400, "reason"},
		{RouteReissue, "T", `{"reason":"because"}`, 400, "reason"},
		{RouteReissue, "T", `{"reason":5}`, 400, "reason"},
		{RouteResume, "T", `{"reason":"lost"}`, 400, "reason"},
		{RouteRenew, "T", `null`, 400, "body"},
		{RouteUpdate, "T", ``, 400, "body"},
		{RouteUpdate, "T", `{"koreanName":"김철수"}`, 400, "koreanName"},
		{RouteUpdate, "T", `{"phone":"123"}`, 400, "phone"},
	} {
		token := tc.token
		if token == "T" {
			token = tok
		}
		status, body := invoke(t, h, tc.route, token, tc.body)
		if status != tc.status {
			t.Errorf("%s %q: %d %v", tc.route, tc.body, status, body)
			continue
		}
		if tc.field != "" {
			fields, _ := body["error"].(map[string]any)["fields"].(map[string]any)
			if fields[tc.field] == nil {
				t.Errorf("%s %q: field %s not named: %v", tc.route, tc.body, tc.field, body)
			}
		}
	}
	// The refusals of the rules pass through with their own status.
	for _, tc := range []struct {
		err    error
		status int
	}{
		{holder.ErrLiveCode, 409}, {holder.ErrQuota, 403}, {holder.ErrNoCode, 404}, {lifecycle.ErrNotQueued, 503},
		{errors.New("boom"), 500},
	} {
		h, tok := handler(t, &submitter{err: tc.err})
		if status, body := invoke(t, h, RouteReissue, tok, `{"reason":"lost"}`); status != tc.status {
			t.Errorf("%v: %d %v", tc.err, status, body)
		} else if status == 500 && body["error"].(map[string]any)["message"] != "Internal error." {
			t.Errorf("500 body %v", body)
		}
	}
}

// FuzzCommandBodies sends arbitrary bodies to every command route: the
// answer is 202 or a 400 that names a field, never anything else.
func FuzzCommandBodies(f *testing.F) {
	routes := []string{RouteIssue, RouteReissue, RouteSuspend, RouteResume, RouteCancel, RouteRenew, RouteUpdate}
	seeds := []string{
		``, `{}`, `{"reason":"lost"}`, `{"reason":null}`, `{"phone":"010-1234-5678"}`, `{"email":""}`,
		`{"englishName":"A B","nationality":"US","addresses":[{"zip":"12345","address":"x"}],"phone":"01012345678","consent":true}`,
		`{"addresses":[{"zip":"1","address":""}]}`, `{"a":1}{"b":2}`, `"str"`, "{\"englishName\":\"\xff\"}",
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		h, tok := handler(t, &submitter{})
		route := routes[int(which)%len(routes)]
		status, resp := invoke(t, h, route, tok, body)
		switch status {
		case 202:
		case 400:
			e, _ := resp["error"].(map[string]any)
			fields, _ := e["fields"].(map[string]any)
			if e["code"] != string(apperr.Invalid) || len(fields) == 0 {
				t.Fatalf("%s %q: 400 without fields: %v", route, body, resp)
			}
		default:
			t.Fatalf("%s %q: %d %v", route, body, status, resp)
		}
	})
}

// TestCommandsCarryTheKey: the Idempotency-Key and the hash of route and
// body reach the command; a replay is marked; a bad key is a 400.
func TestCommandsCarryTheKey(t *testing.T) {
	sub := &submitter{}
	h, tok := handler(t, sub)
	call := func(key, body string) events.APIGatewayV2HTTPResponse {
		ev := events.APIGatewayV2HTTPRequest{
			Version: "2.0", RouteKey: RouteReissue, RawPath: "/v1/codes/me/reissue", Body: body,
			Headers: map[string]string{"content-type": "application/json", "authorization": "Bearer " + tok, "idempotency-key": key},
			RequestContext: events.APIGatewayV2HTTPRequestContext{
				RequestID: "r", HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", Path: "/v1/codes/me/reissue", SourceIP: "203.0.113.1"},
			},
		}
		payload, _ := json.Marshal(ev)
		out, err := h.Invoke(context.Background(), payload)
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	body := `{"reason":"lost"}`
	if r := call("k-1", body); r.StatusCode != 202 || r.Headers[idempotency.ReplayedHeader] != "" {
		t.Fatalf("first: %d %v", r.StatusCode, r.Headers)
	}
	c := sub.got[0]
	if c.Key != "k-1" || c.PayloadHash != idempotency.Fingerprint(RouteReissue, []byte(body)) {
		t.Fatalf("key %q hash %q", c.Key, c.PayloadHash)
	}
	sub.replayed = true
	if r := call("k-1", body); r.StatusCode != 202 || r.Headers[idempotency.ReplayedHeader] != "true" {
		t.Fatalf("replay: %d %v", r.StatusCode, r.Headers)
	}
	if r := call("k\x01", body); r.StatusCode != 400 || !strings.Contains(r.Body, idempotency.Header) {
		t.Fatalf("bad key: %d %s", r.StatusCode, r.Body)
	}
	if len(sub.got) != 2 {
		t.Fatalf("a bad key reached the command: %d", len(sub.got))
	}
}
