package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/stats"
	"github.com/pccc/pccc/shared/testkit"
)

// Declarations over HTTP, on each stack: brokers file with keys made by
// the operator's command, for holders whose codes were issued through the
// real path; holders confirm and deny with their session tokens. Expiry is
// tested on the runner's clock, moved forward instead of slept through.

const declPath = "/v1/declarations"

// declBody is a filing for the marker holder of liveHolder, with goods.
func declBody(code, name string) string {
	b, _ := json.Marshal(map[string]any{
		"code": code, "name": name, "phone": "010-7777-8888", "zip": "04524",
		"waybill": "cj-1234567890", "value": "49.90", "currency": "USD",
		"items": []map[string]any{{"description": "  running   shoes ", "quantity": 1}, {"description": "socks", "quantity": 3}},
	})
	return string(b)
}

// file files a declaration with a key.
func (s *system) file(t *testing.T, key, body string) reply {
	t.Helper()
	return s.send(t, http.MethodPost, declPath, map[string]string{"Content-Type": "application/json", "Authorization": "ApiKey " + key}, body)
}

// filed files a matching declaration and returns its id, checking the 201
// and the status it starts in.
func (s *system) filed(t *testing.T, key, code, wantStatus string) string {
	t.Helper()
	r := s.file(t, key, declBody(code, "마커테스트"))
	id, _ := r.body["id"].(string)
	if r.status != http.StatusCreated || len(id) != 22 || r.body["status"] != wantStatus {
		t.Fatalf("file: %d %s, want 201 %s", r.status, r.raw, wantStatus)
	}
	return id
}

// brokerView reads a declaration with a key.
func (s *system) brokerView(t *testing.T, key, id string) reply {
	t.Helper()
	return s.send(t, http.MethodGet, declPath+"/"+id, map[string]string{"Authorization": "ApiKey " + key}, "")
}

// brokerSees checks the state the filing broker reads.
func (s *system) brokerSees(t *testing.T, key, id, want string) map[string]any {
	t.Helper()
	r := s.brokerView(t, key, id)
	if r.status != http.StatusOK || r.body["status"] != want {
		t.Fatalf("broker reads %s: %d %s, want %s", id, r.status, r.raw, want)
	}
	return r.body
}

// pending lists a holder's declarations with a status filter and returns
// their ids.
func (s *system) listed(t *testing.T, token, status string) []string {
	t.Helper()
	r := s.call(t, http.MethodGet, declPath+"?status="+status, token, "", "")
	if r.status != http.StatusOK {
		t.Fatalf("list %s: %d %s", status, r.status, r.raw)
	}
	var ids []string
	for _, d := range r.body["declarations"].([]any) {
		m := d.(map[string]any)
		if m["status"] != status {
			t.Errorf("list ?status=%s has a %v declaration", status, m["status"])
		}
		if _, ok := m["checkId"]; ok {
			t.Errorf("the holder's view carries the broker's check id: %v", m)
		}
		ids = append(ids, m["id"].(string))
	}
	return ids
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// act confirms or denies as a holder.
func (s *system) act(t *testing.T, token, id, action string) reply {
	t.Helper()
	return s.call(t, http.MethodPost, declPath+"/"+id+"/"+action, token, "", "")
}

// declItems counts the table's declaration items.
func declItems(t *testing.T, s *system) int {
	t.Helper()
	n := 0
	for _, item := range tableItems(t, s) {
		if pk, _ := item[dynamo.AttrPK].(*types.AttributeValueMemberS); pk != nil && strings.HasPrefix(pk.Value, "DECL#") {
			n++
		}
	}
	return n
}

// withoutRequestID blanks an error body's request id, for comparing
// answers that must be the same.
func withoutRequestID(r reply) string {
	id, _ := r.body["requestId"].(string)
	return strings.ReplaceAll(r.raw, id, "-")
}

// The acceptance list of issue 6 item 3, default policy (opt-in): a
// holder with confirmation on sees their declaration pending until they
// confirm; a denied one is never accepted and is recorded as suspected
// misuse; a holder without confirmation gets theirs accepted at once; the
// broker sees each state, other keys and other holders see nothing; a
// mismatch records nothing; confirm and deny racing have one winner.
func TestDeclarationConfirmation(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(map[string]string{"CLEARANCE_CHECKS_PER_CODE_PER_HOUR": "1000"}))
		ctx := context.Background()
		key, _ := newKey(t, s, "ACME Express", 1000)
		other, _ := newKey(t, s, "Other Broker", 1000)
		tok, code := s.liveHolder(t, "decl-holder-"+string(kind))
		otherTok, otherCode := s.liveHolder(t, "decl-other-"+string(kind))

		// The setting: off until turned on.
		if r := s.call(t, http.MethodGet, "/v1/codes/me/confirmation", tok, "", ""); r.status != 200 || r.body["required"] != false || r.body["effective"] != false {
			t.Fatalf("setting before: %d %s", r.status, r.raw)
		}
		if r := s.call(t, http.MethodPut, "/v1/codes/me/confirmation", tok, "", `{"required":"yes"}`); r.status != 400 || r.fields["required"] == nil {
			t.Errorf("a bad setting: %d %s", r.status, r.raw)
		}
		if r := s.call(t, http.MethodPut, "/v1/codes/me/confirmation", tok, "", `{"required":true}`); r.status != 200 || r.body["required"] != true || r.body["effective"] != true {
			t.Fatalf("turn on: %d %s", r.status, r.raw)
		}

		// Without confirmation: accepted at once.
		atOnce := s.filed(t, key, otherCode, "accepted")
		v := s.brokerSees(t, key, atOnce, "accepted")
		if v["confirmBy"] != nil || v["decidedAt"] == nil || v["filedBy"] != "ACME Express" || len(v["checkId"].(string)) != 22 {
			t.Errorf("accepted at once: %v", v)
		}
		if v["waybill"] != "CJ-1234567890" || v["value"] != "49.9" || v["currency"] != "USD" {
			t.Errorf("the goods as stored: %v", v)
		}
		items, _ := v["items"].([]any)
		if len(items) != 2 || items[0].(map[string]any)["description"] != "running shoes" {
			t.Errorf("items: %v", v["items"])
		}
		if r := s.act(t, otherTok, atOnce, "deny"); r.status != http.StatusConflict {
			t.Errorf("deny an accepted declaration: %d %s", r.status, r.raw)
		}

		// With confirmation: pending until confirmed.
		began := time.Now()
		id := s.filed(t, key, code, "pending")
		v = s.brokerSees(t, key, id, "pending")
		by, err := time.Parse(time.RFC3339, v["confirmBy"].(string))
		if err != nil || by.Sub(began) < 71*time.Hour || by.Sub(began) > 73*time.Hour {
			t.Errorf("confirmBy %v, want about 72h from now", v["confirmBy"])
		}
		if !contains(s.listed(t, tok, "pending"), id) {
			t.Error("the holder's pending list lacks the declaration")
		}
		if contains(s.listed(t, tok, "accepted"), id) {
			t.Error("a pending declaration is listed as accepted")
		}

		// Nobody else sees it or acts on it: the same 404 as an unknown id.
		unknown := "AAAAAAAAAAAAAAAAAAAAAA"
		notFound := withoutRequestID(s.brokerView(t, key, unknown))
		if r := s.brokerView(t, other, id); r.status != 404 || withoutRequestID(r) != notFound {
			t.Errorf("another key reads it: %d %s (unknown: %s)", r.status, r.raw, notFound)
		}
		if contains(s.listed(t, otherTok, "pending"), id) {
			t.Error("another holder's list has the declaration")
		}
		unknownAct := withoutRequestID(s.act(t, otherTok, unknown, "confirm"))
		for _, action := range []string{"confirm", "deny"} {
			if r := s.act(t, otherTok, id, action); r.status != 404 || withoutRequestID(r) != unknownAct {
				t.Errorf("another holder's %s: %d %s (unknown: %s)", action, r.status, r.raw, unknownAct)
			}
		}
		if r := s.act(t, "", id, "confirm"); r.status != 401 {
			t.Errorf("confirm without a session: %d", r.status)
		}
		if r := s.act(t, tok, "not-an-id", "confirm"); r.status != 404 {
			t.Errorf("confirm a malformed id: %d", r.status)
		}
		s.brokerSees(t, key, id, "pending")

		// Confirmed: accepted, once; the broker sees it.
		if r := s.act(t, tok, id, "confirm"); r.status != 200 || r.body["status"] != "accepted" {
			t.Fatalf("confirm: %d %s", r.status, r.raw)
		}
		if v := s.brokerSees(t, key, id, "accepted"); v["decidedAt"] == nil {
			t.Errorf("accepted without decidedAt: %v", v)
		}
		if r := s.act(t, tok, id, "confirm"); r.status != 200 || r.body["status"] != "accepted" {
			t.Errorf("confirm again (a lost answer): %d %s", r.status, r.raw)
		}
		if r := s.act(t, tok, id, "deny"); r.status != http.StatusConflict || r.errCode != "CONFLICT" {
			t.Errorf("deny after confirm: %d %s", r.status, r.raw)
		}
		if contains(s.listed(t, tok, "pending"), id) || !contains(s.listed(t, tok, "accepted"), id) {
			t.Error("the confirmed declaration is not listed as accepted")
		}

		// Denied: never accepted; suspected misuse is recorded; by the
		// default policy the code stays active.
		denied := s.filed(t, key, code, "pending")
		if r := s.act(t, tok, denied, "deny"); r.status != 200 || r.body["status"] != "denied" {
			t.Fatalf("deny: %d %s", r.status, r.raw)
		}
		s.brokerSees(t, key, denied, "denied")
		if r := s.act(t, tok, denied, "confirm"); r.status != http.StatusConflict {
			t.Errorf("confirm after deny: %d %s", r.status, r.raw)
		}
		s.brokerSees(t, key, denied, "denied")
		st := dynamo.NewDeclarationStore(clients(t, s).DynamoDB, localTable)
		misuse, err := st.MisuseOn(ctx, stats.Day(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, m := range misuse {
			if m.DeclarationID == denied && m.HolderKey == holderOf(t, tok) && m.Code == code && m.FiledBy == "ACME Express" {
				found++
			}
			if m.DeclarationID == id {
				t.Error("the confirmed declaration is recorded as misuse")
			}
		}
		if found != 1 {
			t.Errorf("misuse records of the denial: %d, want 1 (%v)", found, misuse)
		}
		if r := s.call(t, http.MethodGet, "/v1/codes/me", tok, "", ""); r.body["status"] != "active" {
			t.Errorf("after a denial under the default policy the code is %v", r.body["status"])
		}

		// Confirm and deny at once: exactly one wins, the other gets 409.
		for round := range 3 {
			race := s.filed(t, key, code, "pending")
			var wg sync.WaitGroup
			got := map[string]reply{}
			var mu sync.Mutex
			for _, action := range []string{"confirm", "deny"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := s.act(t, tok, race, action)
					mu.Lock()
					got[action] = r
					mu.Unlock()
				}()
			}
			wg.Wait()
			c, d := got["confirm"], got["deny"]
			var want string
			switch {
			case c.status == 200 && d.status == 409:
				want = "accepted"
			case d.status == 200 && c.status == 409:
				want = "denied"
			default:
				t.Fatalf("round %d: confirm %d %s, deny %d %s; want one 200 and one 409", round, c.status, c.raw, d.status, d.raw)
			}
			s.brokerSees(t, key, race, want)
		}

		// A mismatch files nothing and answers as the clearance check does.
		before := declItems(t, s)
		r := s.file(t, key, declBody(code, "WRONG PERSON"))
		if r.status != 200 || r.body["result"] != "mismatch" || len(r.body) != 2 {
			t.Errorf("a mismatching filing: %d %s", r.status, r.raw)
		}
		unknownCode := s.file(t, key, declBody("P000000000000", "마커테스트"))
		if withoutCheckID(t, unknownCode) != withoutCheckID(t, r) {
			t.Errorf("an unknown code answers %s, a wrong name %s", unknownCode.raw, r.raw)
		}
		if after := declItems(t, s); after != before {
			t.Errorf("mismatches recorded %d declarations", after-before)
		}

		// Bad input: one 400 naming every bad field, the check's and the goods'.
		bad := `{"code":"P1","name":"마커테스트","phone":"01077778888","zip":"04524","waybill":"x","items":[{"description":"","quantity":0}],"value":"-1","currency":"usd"}`
		r = s.file(t, key, bad)
		for _, f := range []string{"code", "waybill", "items[0].description", "items[0].quantity", "value", "currency"} {
			if r.fields[f] == nil {
				t.Errorf("400 does not name %s: %d %s", f, r.status, r.raw)
			}
		}
		if r := s.call(t, http.MethodGet, declPath+"?status=maybe", tok, "", ""); r.status != 400 || r.fields["status"] == nil {
			t.Errorf("list ?status=maybe: %d %s", r.status, r.raw)
		}
		if r := s.send(t, http.MethodPost, declPath, map[string]string{"Content-Type": "application/json"}, declBody(code, "마커테스트")); r.status != 401 {
			t.Errorf("filing without a key: %d %s", r.status, r.raw)
		}

		// No personal data in the logs.
		logs := s.logs.String()
		if !strings.Contains(logs, `"msg":"declaration filed"`) {
			t.Fatal("the filings were not logged")
		}
		for _, personal := range []string{"마커테스트", "MARKERPERSON", "01077778888", "7777-8888", "04524", "WRONG PERSON", code} {
			if strings.Contains(logs, personal) {
				t.Errorf("the logs hold %q", personal)
			}
		}
	})
}

// startOnClock runs the system with its functions on clock.
func startOnClock(t *testing.T, kind localstack.Kind, env map[string]string, clock *testkit.Clock) *system {
	t.Helper()
	return startCustom(t, kind, env, func(_ *localstack.Stack, o *localrun.Options) { o.Now = clock.Now })
}

// Expired ones lapse: past DECLARATION_CONFIRM_WITHIN a pending
// declaration reads expired to the broker and the holder at once, and
// confirming or denying it is a 409; one decided in time keeps its state.
func TestDeclarationExpiry(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		clock := testkit.NewClock(time.Now())
		s := startOnClock(t, kind, sessionEnv(map[string]string{"DECLARATION_CONFIRM_WITHIN": "2h"}), clock)
		key, _ := newKey(t, s, "ACME Express", 1000)
		hk := "decl-expiry-" + string(kind)
		// Tokens on the runner's clock: it stood still while the stack
		// started, and a token issued after its now would be refused.
		tok := mintAt(t, hk, clock.Now)
		v := s.succeeded(t, tok, accepted(t, s.call(t, "POST", "/v1/codes", tok, "", issueBody())))
		code, _ := v["code"].(string)
		if r := s.call(t, http.MethodPut, "/v1/codes/me/confirmation", tok, "", `{"required":true}`); r.status != 200 {
			t.Fatalf("turn on: %d %s", r.status, r.raw)
		}
		began := clock.Now()
		late := s.filed(t, key, code, "pending")
		lateDeny := s.filed(t, key, code, "pending")
		inTime := s.filed(t, key, code, "pending")
		if v := s.brokerSees(t, key, late, "pending"); !strings.HasPrefix(v["confirmBy"].(string), began.Add(2*time.Hour).UTC().Format("2006-01-02T15:04")) {
			t.Errorf("confirmBy %v, want 2h after %v", v["confirmBy"], began.UTC())
		}
		clock.Advance(90 * time.Minute)
		tok = mintAt(t, hk, clock.Now)
		if r := s.act(t, tok, inTime, "confirm"); r.status != 200 {
			t.Fatalf("confirm in time: %d %s", r.status, r.raw)
		}

		clock.Advance(31 * time.Minute) // past the deadline of the others
		tok = mintAt(t, hk, clock.Now)
		for _, id := range []string{late, lateDeny} {
			v := s.brokerSees(t, key, id, "expired")
			if v["decidedAt"] != v["confirmBy"] {
				t.Errorf("expired at %v, its deadline %v", v["decidedAt"], v["confirmBy"])
			}
		}
		s.brokerSees(t, key, inTime, "accepted")
		if p := s.listed(t, tok, "pending"); contains(p, late) || contains(p, lateDeny) {
			t.Errorf("expired declarations are listed pending: %v", p)
		}
		if e := s.listed(t, tok, "expired"); !contains(e, late) || !contains(e, lateDeny) {
			t.Errorf("the expired list %v lacks them", e)
		}
		for id, action := range map[string]string{late: "confirm", lateDeny: "deny"} {
			r := s.act(t, tok, id, action)
			if r.status != http.StatusConflict || !strings.Contains(r.raw, "expired") {
				t.Errorf("%s after the deadline: %d %s", action, r.status, r.raw)
			}
			s.brokerSees(t, key, id, "expired")
		}
		if r := s.act(t, tok, inTime, "deny"); r.status != http.StatusConflict {
			t.Errorf("deny an accepted one after the deadline: %d %s", r.status, r.raw)
		}
	})
}

// The policy's other settings: with DECLARATION_CONFIRMATION=everyone a
// holder who never turned confirmation on must confirm too, and with
// DECLARATION_DENIAL_SUSPENDS=true a denial suspends the code by the
// authority (through the command queue and worker), so the code no longer
// clears and the holder cannot resume it themselves.
func TestDeclarationPolicyEveryoneAndSuspension(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(map[string]string{
			"DECLARATION_CONFIRMATION": "everyone", "DECLARATION_DENIAL_SUSPENDS": "true", "CLEARANCE_CHECKS_PER_CODE_PER_HOUR": "1000",
		}))
		key, _ := newKey(t, s, "ACME Express", 1000)
		tok, code := s.liveHolder(t, "decl-everyone-"+string(kind))
		if r := s.call(t, http.MethodGet, "/v1/codes/me/confirmation", tok, "", ""); r.body["required"] != false || r.body["effective"] != true {
			t.Errorf("setting under everyone: %s", r.raw)
		}
		id := s.filed(t, key, code, "pending")
		if r := s.act(t, tok, id, "deny"); r.status != 200 || r.body["status"] != "denied" {
			t.Fatalf("deny: %d %s", r.status, r.raw)
		}
		// Sent again (a lost answer): the same denial, the suspension queued
		// again under the same request id and carried out once.
		if r := s.act(t, tok, id, "deny"); r.status != 200 || r.body["status"] != "denied" {
			t.Fatalf("deny again: %d %s", r.status, r.raw)
		}
		deadline := time.Now().Add(30 * time.Second)
		var view reply
		for time.Now().Before(deadline) {
			view = s.call(t, http.MethodGet, "/v1/codes/me", tok, "", "")
			if view.body["status"] == "suspended" {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if view.body["status"] != "suspended" || view.body["suspendedBy"] != "authority" {
			t.Fatalf("after the denial the code reads %s", view.raw)
		}
		s.brokerSees(t, key, id, "denied")
		if r := s.check(t, "ApiKey "+key, checkBody(code, "마커테스트", "01077778888", "04524")); r.body["result"] != "mismatch" {
			t.Errorf("the suspended code still clears: %s", r.raw)
		}
		if r := s.call(t, http.MethodPost, "/v1/codes/me/resume", tok, "", ""); r.status < 400 {
			t.Errorf("the holder resumed an authority suspension: %d %s", r.status, r.raw)
		}
		if n := audits(t, s, holderOf(t, tok))["decl-"+id]; n != 1 {
			t.Errorf("the denial's suspension audited %d times, want once", n)
		}
	})
}

// Filings are checks: they count in the same per-code window as
// clearance checks (and the key's own), so alternating the two routes
// buys a guesser nothing.
func TestDeclarationThrottledLikeChecks(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(map[string]string{"CLEARANCE_CHECKS_PER_CODE_PER_HOUR": "2"}))
		key, _ := newKey(t, s, "ACME Express", 1000)
		_, code := s.liveHolder(t, "decl-throttle-"+string(kind))
		if r := s.check(t, "ApiKey "+key, checkBody(code, "마커테스트", "01077778888", "04524")); r.status != 200 {
			t.Fatalf("check: %d %s", r.status, r.raw)
		}
		s.filed(t, key, code, "accepted")
		r := s.file(t, key, declBody(code, "마커테스트"))
		if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
			t.Errorf("the third in the hour: %d %s, want 429 with Retry-After", r.status, r.raw)
		}
		if r := s.check(t, "ApiKey "+key, checkBody(code, "마커테스트", "01077778888", "04524")); r.status != http.StatusTooManyRequests {
			t.Errorf("a check after the filings: %d, want 429", r.status)
		}
	})
}

// TestDeclarationKeyed: a filing sent again with its Idempotency-Key gets
// the first answer, not a second declaration; the key with another body
// is a 409; keys are per API key.
func TestDeclarationKeyed(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(map[string]string{"CLEARANCE_CHECKS_PER_CODE_PER_HOUR": "1000"}))
		key, _ := newKey(t, s, "ACME Express", 1000)
		other, _ := newKey(t, s, "Other Broker", 1000)
		tok, code := s.liveHolder(t, "decl-keyed-"+string(kind))
		file := func(apiKey, idem, body string) reply {
			return s.send(t, http.MethodPost, declPath, map[string]string{
				"Content-Type": "application/json", "Authorization": "ApiKey " + apiKey, "Idempotency-Key": idem}, body)
		}
		body := declBody(code, "마커테스트")
		first := file(key, "filing-1", body)
		id, _ := first.body["id"].(string)
		if first.status != http.StatusCreated || len(id) != 22 {
			t.Fatalf("first: %d %s", first.status, first.raw)
		}
		again := file(key, "filing-1", body)
		if again.status != http.StatusCreated || again.body["id"] != id || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("sent again: %d %s (replayed %q), want the first answer", again.status, again.raw, again.header.Get("Idempotent-Replayed"))
		}
		if r := file(key, "filing-1", body); r.status != http.StatusCreated || r.body["id"] != id {
			t.Fatalf("a third time: %d %s, want the first answer", r.status, r.raw)
		}
		other2 := strings.Replace(body, "cj-1234567890", "cj-9999999999", 1)
		if other2 == body {
			t.Fatal("the other body is the same")
		}
		if r := file(key, "filing-1", other2); r.status != http.StatusConflict || r.errCode != "CONFLICT" {
			t.Errorf("the key with another body: %d %s", r.status, r.raw)
		}
		if r := file(other, "filing-1", body); r.status != http.StatusCreated || r.body["id"] == id {
			t.Errorf("another API key's filing-1: %d %s, want a declaration of its own", r.status, r.raw)
		}
		if r := file(key, strings.Repeat("k", 129), body); r.status != http.StatusBadRequest || r.fields["Idempotency-Key"] == nil {
			t.Errorf("a bad key: %d %s", r.status, r.raw)
		}
		got := 0
		for _, l := range []string{"pending", "accepted"} {
			for _, d := range s.listed(t, tok, l) {
				if d == id {
					got++
				}
			}
		}
		if got != 1 {
			t.Errorf("the holder lists the keyed filing %d times", got)
		}
	})
}
