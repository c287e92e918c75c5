package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pccc/pccc/infra/consistency"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/keyring"
	"github.com/pccc/pccc/shared/lifecycle"
	"github.com/pccc/pccc/shared/session"
	"github.com/pccc/pccc/shared/stats"
)

const localTable = "pccc-local-Table"

// sessionKeyEnv gives the runner a session key the test knows, so tests
// that are about codes, not about identity, can mint holders' tokens.
var testSessionKey = strings.Repeat("k", 32)

// testRings are the rings every e2e runner is given (startCustom): the
// session ring holds testSessionKey.
var testRings = map[keyring.Kind]keyring.Ring{
	keyring.Session: {Active: "t1", Keys: map[string][]byte{"t1": []byte(testSessionKey)}},
}

func sessionEnv(extra map[string]string) map[string]string {
	env := map[string]string{}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// mint returns a session token for a holder key.
func mint(t *testing.T, hk string) string {
	t.Helper()
	return mintAt(t, hk, time.Now)
}

// mintAt returns a session token issued on a given clock.
func mintAt(t *testing.T, hk string, now func() time.Time) string {
	t.Helper()
	iss, err := session.New(map[string][]byte{"t1": []byte(testSessionKey)}, "t1", 15*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := iss.Issue(hk, "test-verification")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// holderOf reads the holder key out of a session token's claims.
func holderOf(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(b, &c)
	return c.Sub
}

// call sends a request with a bearer token and optional idempotency key.
func (s *system) call(t *testing.T, method, path, token, key, body string) reply {
	t.Helper()
	h := map[string]string{}
	if body != "" {
		h["Content-Type"] = "application/json"
	}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	return s.send(t, method, path, h, body)
}

// accepted checks a 202 and returns the request id.
func accepted(t *testing.T, r reply) string {
	t.Helper()
	id, _ := r.body["requestId"].(string)
	if r.status != http.StatusAccepted || id == "" || r.body["status"] != "queued" || r.body["statusUrl"] != "/v1/requests/"+id {
		t.Fatalf("want 202 queued, got %d %s", r.status, r.raw)
	}
	return id
}

// finished polls a request until it leaves "queued" and returns its view.
func (s *system) finished(t *testing.T, token, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		r := s.call(t, http.MethodGet, "/v1/requests/"+id, token, "", "")
		if r.status >= 500 {
			// Shed or a dependency failing (the fault tests): try again,
			// as a client told Retry-After would.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if r.status != http.StatusOK {
			t.Fatalf("request %s: %d %s", id, r.status, r.raw)
		}
		if st := r.body["status"]; st == "succeeded" || st == "failed" {
			return r.body
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("request %s did not finish within 60s", id)
	return nil
}

func (s *system) succeeded(t *testing.T, token, id string) map[string]any {
	t.Helper()
	v := s.finished(t, token, id)
	if v["status"] != "succeeded" {
		t.Fatalf("request %s: %v", id, v)
	}
	return v
}

func clients(t *testing.T, s *system) *awsclient.Clients {
	t.Helper()
	c, err := s.stack.Clients(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// countsToday reads the statistics of the days the test ran in.
func countsToday(t *testing.T, s *system, since time.Time) map[stats.Kind]int64 {
	t.Helper()
	c := clients(t, s)
	days := []string{stats.Day(since)}
	if d := stats.Day(time.Now()); d != days[0] {
		days = append(days, d)
	}
	daily, err := dynamo.NewStats(c.DynamoDB, localTable).Read(context.Background(), days, false)
	if err != nil {
		t.Fatal(err)
	}
	out := map[stats.Kind]int64{}
	for _, d := range daily {
		for k, v := range d.Counts {
			out[k] += v
		}
	}
	return out
}

// audits counts a holder's audit events by request id.
func audits(t *testing.T, s *system, hk string) map[string]int {
	t.Helper()
	c := clients(t, s)
	out, err := c.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:              aws.String(localTable),
		KeyConditionExpression: aws.String("PK = :pk AND begins_with(SK, :a)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: "HOLDER#" + hk}, ":a": &types.AttributeValueMemberS{Value: "AUDIT#"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, item := range out.Items {
		if v, ok := item["requestId"].(*types.AttributeValueMemberS); ok {
			n[v.Value]++
		}
		for _, a := range []string{"what", "actor", "at", "requestId"} {
			if _, ok := item[a]; !ok {
				t.Errorf("audit event without %s", a)
			}
		}
	}
	return n
}

// liveCodesOf scans the code items and returns the live codes of a holder.
func liveCodesOf(t *testing.T, s *system, hk string) []string {
	t.Helper()
	var live []string
	for _, item := range tableItems(t, s) {
		pk := item["PK"].(*types.AttributeValueMemberS).Value
		h, _ := item["holderKey"].(*types.AttributeValueMemberS)
		st, _ := item["status"].(*types.AttributeValueMemberS)
		if strings.HasPrefix(pk, "CODE#") && h != nil && h.Value == hk && st != nil && st.Value == dynamo.CodeLive {
			live = append(live, strings.TrimPrefix(pk, "CODE#"))
		}
	}
	return live
}

// tableItems scans the whole table.
func tableItems(t *testing.T, s *system) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(clients(t, s).DynamoDB, &dynamodb.ScanInput{TableName: aws.String(localTable)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, page.Items...)
	}
	return items
}

func (s *system) codeStatus(t *testing.T, code string) string {
	t.Helper()
	c := clients(t, s)
	_, status, err := dynamo.NewCodeStore(c.DynamoDB, localTable, nil).CodeOwner(context.Background(), code)
	if err != nil {
		t.Fatalf("code %s: %v", code, err)
	}
	return status
}

// sessionFor runs the whole identity flow for a resident.
func (s *system) sessionFor(t *testing.T, r sim.Resident) string {
	t.Helper()
	id := s.startVerification(t, r)
	if rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
		t.Fatalf("sms: %d %s", rep.status, rep.raw)
	}
	code := s.waitForCode(t, r.Phone, 0)
	rep := s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": code})
	tok, _ := rep.body["sessionToken"].(string)
	if tok == "" {
		t.Fatalf("confirm: %d %s", rep.status, rep.raw)
	}
	return tok
}

// Marker personal data: none of it may appear in clear in a table or a log.
const (
	markerKorean     = "마커테스트"
	markerEnglish    = "MARKERPERSON QZXW"
	markerAddress    = "Markerstreet 4242 Qzxw-ro"
	markerDetail     = "Markerflat 9191"
	codeMarkerPhone  = "01077778888"
	codeMarkerPhone2 = "01066665555"
	markerEmail      = "marker.qzxw@example.org"
)

func issueBody() string {
	return `{"englishName":"markerperson  qzxw","koreanName":"` + markerKorean + `","nationality":"KR",` +
		`"addresses":[{"zip":"04524","address":"` + markerAddress + `","detail":"` + markerDetail + `"},` +
		`{"zip":"06236","address":"Second road 1"}],` +
		`"phone":"010-7777-8888","email":"` + markerEmail + `","consent":true}`
}

// TestCodeLifecycle walks one holder through every command over HTTP, from
// the SMS verification on, with marker personal data.
func TestCodeLifecycle(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, nil)
		began := time.Now()
		tok := s.sessionFor(t, sim.BuiltIn()[0])
		hk := holderOf(t, tok)
		other := s.sessionFor(t, sim.BuiltIn()[1])
		var ids []string

		if r := s.call(t, "GET", "/v1/codes/me", tok, "", ""); r.status != 404 || r.errCode != "NOT_FOUND" {
			t.Fatalf("lookup before issue: %d %s", r.status, r.raw)
		}
		if r := s.call(t, "POST", "/v1/codes", "", "", issueBody()); r.status != 401 {
			t.Fatalf("issue without a token: %d %s", r.status, r.raw)
		}
		r := s.call(t, "POST", "/v1/codes", tok, "", `{"englishName":"X1","addresses":[],"consent":false}`)
		if r.status != 400 || r.fields["englishName"] == nil || r.fields["addresses"] == nil || r.fields["consent"] == nil ||
			r.fields["phone"] == nil || r.fields["nationality"] == nil {
			t.Fatalf("bad issue: %d %s", r.status, r.raw)
		}
		if r := s.call(t, "POST", "/v1/codes", tok, strings.Repeat("k", 129), issueBody()); r.status != 400 || r.fields["Idempotency-Key"] == nil {
			t.Fatalf("bad key: %d %s", r.status, r.raw)
		}

		// Issue, with an idempotency key: the retry gets the same answer,
		// another body under the key a 409.
		first := s.call(t, "POST", "/v1/codes", tok, "issue-1", issueBody())
		id := accepted(t, first)
		again := s.call(t, "POST", "/v1/codes", tok, "issue-1", issueBody())
		if again.status != 202 || again.body["requestId"] != id || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("same key, same body: %d %s", again.status, again.raw)
		}
		if r := s.call(t, "POST", "/v1/codes", tok, "issue-1", strings.Replace(issueBody(), "04524", "04525", 1)); r.status != 409 || r.errCode != "CONFLICT" {
			t.Fatalf("same key, another body: %d %s", r.status, r.raw)
		}
		v := s.succeeded(t, tok, id)
		ids = append(ids, id)
		code, _ := v["code"].(string)
		if !codes.Valid(code) || v["kind"] != "issue" {
			t.Fatalf("issued %v", v)
		}

		// Only the owner reads a request.
		if r := s.call(t, "GET", "/v1/requests/"+id, other, "", ""); r.status != 403 || r.errCode != "FORBIDDEN" {
			t.Fatalf("another holder's request: %d %s", r.status, r.raw)
		}
		if r := s.call(t, "GET", "/v1/requests/AAAAAAAAAAAAAAAAAAAAAA", tok, "", ""); r.status != 404 {
			t.Fatalf("unknown request: %d %s", r.status, r.raw)
		}
		if r := s.call(t, "GET", "/v1/requests/"+id, "", "", ""); r.status != 401 {
			t.Fatalf("request without a token: %d", r.status)
		}

		look := s.call(t, "GET", "/v1/codes/me", tok, "", "")
		if look.status != 200 || look.body["code"] != code || look.body["status"] != "active" ||
			look.body["englishName"] != markerEnglish || look.body["koreanName"] != markerKorean ||
			look.body["phone"] != codeMarkerPhone || look.body["email"] != markerEmail ||
			look.body["reissuesLeft"] != float64(5) || look.body["reissuesThisYear"] != float64(0) {
			t.Fatalf("lookup: %d %s", look.status, look.raw)
		}
		if addrs, _ := look.body["addresses"].([]any); len(addrs) != 2 {
			t.Fatalf("addresses: %v", look.body["addresses"])
		}
		issuedAt, _ := time.Parse(time.RFC3339, look.body["issuedAt"].(string))
		expiresAt, _ := time.Parse(time.RFC3339, look.body["expiresAt"].(string))
		if !expiresAt.Equal(issuedAt.AddDate(1, 0, 0)) {
			t.Errorf("valid from %v to %v, want one year", issuedAt, expiresAt)
		}
		if other := s.call(t, "GET", "/v1/codes/me", other, "", ""); other.status != 404 {
			t.Fatalf("another holder sees a code: %s", other.raw)
		}

		// Refused at once: a second issue, a resume of an active code, a
		// renewal far from expiry, a reissue without a reason.
		for _, tc := range []struct{ method, path, body, code string }{
			{"POST", "/v1/codes", issueBody(), "CONFLICT"},
			{"POST", "/v1/codes/me/resume", "", "CONFLICT"},
			{"POST", "/v1/codes/me/renew", "{}", "POLICY_DENIED"},
			{"POST", "/v1/codes/me/reissue", "{}", "INVALID_ARGUMENT"},
			{"POST", "/v1/codes/me/reissue", `{"reason":"bored"}`, "INVALID_ARGUMENT"},
			{"POST", "/v1/codes/me/resume", `{"x":1}`, "INVALID_ARGUMENT"},
			{"PATCH", "/v1/codes/me", `{}`, "INVALID_ARGUMENT"},
			{"PATCH", "/v1/codes/me", `{"koreanName":"김"}`, "INVALID_ARGUMENT"},
		} {
			if r := s.call(t, tc.method, tc.path, tok, "", tc.body); r.errCode != tc.code {
				t.Errorf("%s %s %s: %d %s, want %s", tc.method, tc.path, tc.body, r.status, r.raw, tc.code)
			}
		}

		// A keyed refusal is kept for its key: the retry meets the same
		// refusal, and the record is no request its holder can read.
		first409 := s.call(t, "POST", "/v1/codes", tok, "issue-again", issueBody())
		again409 := s.call(t, "POST", "/v1/codes", tok, "issue-again", issueBody())
		if first409.status != 409 || again409.status != 409 || first409.body["error"].(map[string]any)["message"] != again409.body["error"].(map[string]any)["message"] {
			t.Fatalf("keyed refusal and its replay: %s / %s", first409.raw, again409.raw)
		}
		if r := s.call(t, "GET", "/v1/requests/"+lifecycle.RequestIDFor(hk, "issue-again"), tok, "", ""); r.status != 404 {
			t.Fatalf("a refused command reads as a request: %d %s", r.status, r.raw)
		}

		// Reissue: the old code is retired in the same transaction.
		id = accepted(t, s.call(t, "POST", "/v1/codes/me/reissue", tok, "", `{"reason":"leak_concern"}`))
		v = s.succeeded(t, tok, id)
		ids = append(ids, id)
		newCode, _ := v["code"].(string)
		if newCode == code || !codes.Valid(newCode) {
			t.Fatalf("reissue gave %q after %q", newCode, code)
		}
		if st := s.codeStatus(t, code); st != dynamo.CodeRetired {
			t.Errorf("the old code is %s after the reissue", st)
		}
		look = s.call(t, "GET", "/v1/codes/me", tok, "", "")
		if look.body["code"] != newCode || look.body["reissuesThisYear"] != float64(1) || look.body["reissuesLeft"] != float64(4) {
			t.Fatalf("lookup after reissue: %s", look.raw)
		}

		// Suspend and resume; a second suspension is refused at once.
		id = accepted(t, s.call(t, "POST", "/v1/codes/me/suspend", tok, "", `{"reason":"misuse_suspected"}`))
		s.succeeded(t, tok, id)
		ids = append(ids, id)
		if look = s.call(t, "GET", "/v1/codes/me", tok, "", ""); look.body["status"] != "suspended" || look.body["suspendedBy"] != "holder" {
			t.Fatalf("after suspend: %s", look.raw)
		}
		if r := s.call(t, "POST", "/v1/codes/me/suspend", tok, "", ""); r.status != 409 {
			t.Fatalf("second suspend: %d %s", r.status, r.raw)
		}
		id = accepted(t, s.call(t, "POST", "/v1/codes/me/resume", tok, "", ""))
		s.succeeded(t, tok, id)
		ids = append(ids, id)

		// Update: new phone, e-mail removed.
		id = accepted(t, s.call(t, "PATCH", "/v1/codes/me", tok, "", `{"phone":"`+codeMarkerPhone2+`","email":""}`))
		s.succeeded(t, tok, id)
		ids = append(ids, id)
		look = s.call(t, "GET", "/v1/codes/me", tok, "", "")
		if look.body["status"] != "active" || look.body["phone"] != codeMarkerPhone2 || look.body["email"] != nil || look.body["englishName"] != markerEnglish {
			t.Fatalf("after update: %s", look.raw)
		}

		// Cancel: the code is retired; a new application is possible.
		id = accepted(t, s.call(t, "POST", "/v1/codes/me/cancel", tok, "", `{"reason":"no_longer_needed"}`))
		s.succeeded(t, tok, id)
		ids = append(ids, id)
		if look = s.call(t, "GET", "/v1/codes/me", tok, "", ""); look.body["status"] != "cancelled" {
			t.Fatalf("after cancel: %s", look.raw)
		}
		if st := s.codeStatus(t, newCode); st != dynamo.CodeRetired {
			t.Errorf("the cancelled code is %s", st)
		}
		if r := s.call(t, "POST", "/v1/codes/me/suspend", tok, "", ""); r.status != 409 {
			t.Fatalf("suspend after cancel: %d %s", r.status, r.raw)
		}

		t.Run("every change left one audit event; counters match", func(t *testing.T) {
			a := audits(t, s, hk)
			for _, id := range ids {
				if a[id] != 1 {
					t.Errorf("request %s has %d audit events", id, a[id])
				}
			}
			if len(a) != len(ids) {
				t.Errorf("%d audited requests, %d succeeded", len(a), len(ids))
			}
			got := countsToday(t, s, began)
			// With the parts that say why and by whom, the two real-name
			// checks and the two codes the sessions above began with. The
			// notices go out at the provider's rate, after the commands:
			// TestStatsExportAcrossMidnight checks them against the sender.
			want := map[stats.Kind]int64{stats.Issued: 1, stats.Reissued: 1, stats.ReissuedLeakConcern: 1, stats.Suspended: 1, stats.SuspendedByHolder: 1,
				stats.Resumed: 1, stats.Updated: 1, stats.Cancelled: 1, stats.CancelledByHolder: 1, stats.RealNameMatched: 2, stats.SMSCodesSent: 2}
			for _, k := range stats.Kinds() {
				if k == stats.SMSNoticesSent || k == stats.SMSParts {
					continue
				}
				if got[k] != want[k] {
					t.Errorf("counter %s = %d, want %d", k, got[k], want[k])
				}
			}
		})

		t.Run("no marker data in clear in the tables or the logs", func(t *testing.T) {
			dump := dumpTables(t, s.stack)
			logs := s.logs.String()
			for _, m := range []string{markerKorean, markerEnglish, "MARKERPERSON", "markerperson", markerAddress, "Markerstreet", markerDetail,
				codeMarkerPhone, codeMarkerPhone2, "010-7777-8888", "7777-8888", markerEmail, "marker.qzxw", tok} {
				if i := strings.Index(dump, m); i >= 0 {
					t.Errorf("table dump holds %q: …%s…", m, around(dump, i))
				}
				if i := strings.Index(logs, m); i >= 0 {
					t.Errorf("logs hold %q: …%s…", m, around(logs, i))
				}
			}
		})
	})
}

// waitAll waits for requests to finish and returns how many succeeded.
func (s *system) waitAll(t *testing.T, token string, ids []string) (succeeded int, views []map[string]any) {
	t.Helper()
	for _, id := range ids {
		v := s.finished(t, token, id)
		views = append(views, v)
		if v["status"] == "succeeded" {
			succeeded++
		} else if e, _ := v["error"].(string); e == "" {
			t.Errorf("request %s failed without a reason", id)
		}
	}
	return succeeded, views
}

// TestCodeConcurrency: parallel commands for one holder keep the invariants.
func TestCodeConcurrency(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		// The invariants under concurrency, not admission (its own tests):
		// on a loaded machine the latency bound would shed some of these
		// bursts with 503, which a person would simply send again.
		s := start(t, kind, sessionEnv(map[string]string{"ADMIT_MAX_LATENCY": "0"}))
		began := time.Now()
		hk := "concurrency-holder-" + string(kind)
		tok := mint(t, hk)
		var answered []string // every request answered 202, for the checker

		t.Run("fifty parallel issues yield one code", func(t *testing.T) {
			var mu sync.Mutex
			var ids []string
			var wg sync.WaitGroup
			for range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := s.call(t, "POST", "/v1/codes", tok, "", issueBody())
					mu.Lock()
					defer mu.Unlock()
					switch r.status {
					case 202:
						ids = append(ids, r.body["requestId"].(string))
					case 409:
					default:
						t.Errorf("parallel issue: %d %s", r.status, r.raw)
					}
				}()
			}
			wg.Wait()
			ok, views := s.waitAll(t, tok, ids)
			answered = append(answered, ids...)
			if ok != 1 {
				t.Fatalf("%d of %d queued issues succeeded", ok, len(ids))
			}
			for _, v := range views {
				if v["status"] == "failed" && !strings.Contains(v["error"].(string), "already have a live code") {
					t.Errorf("failed for another reason: %v", v)
				}
			}
			if live := liveCodesOf(t, s, hk); len(live) != 1 {
				t.Fatalf("live codes after 50 issues: %v", live)
			}
		})

		t.Run("parallel reissues leave one live code", func(t *testing.T) {
			var mu sync.Mutex
			var ids []string
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := s.call(t, "POST", "/v1/codes/me/reissue", tok, "", `{"reason":"leak_concern"}`)
					mu.Lock()
					defer mu.Unlock()
					if r.status == 202 {
						ids = append(ids, r.body["requestId"].(string))
					} else if r.status != 403 {
						t.Errorf("parallel reissue: %d %s", r.status, r.raw)
					}
				}()
			}
			wg.Wait()
			ok, _ := s.waitAll(t, tok, ids)
			answered = append(answered, ids...)
			if ok < 1 || ok > 5 {
				t.Fatalf("%d reissues succeeded (quota 5)", ok)
			}
			live := liveCodesOf(t, s, hk)
			look := s.call(t, "GET", "/v1/codes/me", tok, "", "")
			if len(live) != 1 || look.body["code"] != live[0] {
				t.Fatalf("live codes %v, lookup %s", live, look.raw)
			}
			if look.body["reissuesThisYear"] != float64(ok) {
				t.Fatalf("reissuesThisYear %v after %d reissues", look.body["reissuesThisYear"], ok)
			}
			got := countsToday(t, s, began)
			if got[stats.Issued] != 1 || got[stats.Reissued] != int64(ok) {
				t.Fatalf("counters %v, want issued 1, reissued %d", got, ok)
			}
		})

		t.Run("after a mixed run the counters equal the succeeded commands", func(t *testing.T) {
			before := countsToday(t, s, began)
			counted := map[string]stats.Kind{"issue": stats.Issued, "reissue": stats.Reissued, "suspend": stats.Suspended,
				"resume": stats.Resumed, "cancel": stats.Cancelled, "update": stats.Updated, "renew": stats.Renewed}
			byWhom := map[stats.Kind]stats.Kind{stats.Reissued: stats.ReissuedLeakConcern,
				stats.Suspended: stats.SuspendedByHolder, stats.Cancelled: stats.CancelledByHolder}
			steps := []struct{ method, path, body string }{
				{"POST", "/v1/codes", issueBody()},
				{"POST", "/v1/codes/me/suspend", ""},
				{"POST", "/v1/codes/me/resume", ""},
				{"POST", "/v1/codes/me/reissue", `{"reason":"leak_concern"}`},
				{"PATCH", "/v1/codes/me", `{"email":"x@example.com"}`},
				{"POST", "/v1/codes/me/suspend", ""},
				{"POST", "/v1/codes/me/cancel", ""},
			}
			var mu sync.Mutex
			succeeded := map[stats.Kind]int64{}
			var wg sync.WaitGroup
			for h := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tok := mint(t, "mixed-"+string(kind)+"-"+string(rune('a'+h)))
					for _, st := range steps {
						// Each step twice at once, as an impatient person
						// would: both may be queued; the rules decide.
						var ids []string
						var inner sync.WaitGroup
						var imu sync.Mutex
						for range 2 {
							inner.Add(1)
							go func() {
								defer inner.Done()
								r := s.call(t, st.method, st.path, tok, "", st.body)
								if r.status == 202 {
									imu.Lock()
									ids = append(ids, r.body["requestId"].(string))
									imu.Unlock()
								} else if r.status >= 500 {
									t.Errorf("%s %s: %d %s", st.method, st.path, r.status, r.raw)
								}
							}()
						}
						inner.Wait()
						_, views := s.waitAll(t, tok, ids)
						mu.Lock()
						answered = append(answered, ids...)
						for _, v := range views {
							if v["status"] == "succeeded" {
								k := counted[v["kind"].(string)]
								succeeded[k]++
								// The parts that say why and by whom: every
								// reissue here gives leak_concern, and the
								// holder suspends and cancels.
								if part, ok := byWhom[k]; ok {
									succeeded[part]++
								}
							}
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			after := countsToday(t, s, began)
			total := int64(0)
			for _, k := range stats.Kinds() {
				if k == stats.SMSNoticesSent || k == stats.SMSParts {
					// Sent at the provider's rate after the commands:
					// TestStatsExportAcrossMidnight checks them.
					continue
				}
				if d := after[k] - before[k]; d != succeeded[k] {
					t.Errorf("counter %s rose by %d, %d such commands succeeded", k, d, succeeded[k])
				}
				total += succeeded[k]
			}
			if succeeded[stats.Issued] != 8 || succeeded[stats.Cancelled] != 8 || total < int64(8*len(steps)) {
				t.Errorf("succeeded %v: every holder should have gone through every step", succeeded)
			}
		})

		t.Run("the consistency checker finds nothing wrong", func(t *testing.T) {
			rep, err := consistency.Check(context.Background(), clients(t, s).DynamoDB, localTable, consistency.Input{Answered: answered})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Succeeded == 0 || rep.Failed == 0 || len(answered) < 100 {
				t.Fatalf("%d answered; report %+v", len(answered), rep)
			}
		})
	})
}

// commandQueue returns the command queue and its DLQ, with the queue's
// visibility lowered so redeliveries come within the test.
func commandQueue(t *testing.T, s *system) (queue, dlq string) {
	t.Helper()
	ctx := context.Background()
	c := clients(t, s)
	url := func(name string) string {
		out, err := c.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return *out.QueueUrl
	}
	queue, dlq = url("pccc-local-CommandQueue"), url("pccc-local-CommandDLQ")
	if _, err := c.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl: aws.String(queue), Attributes: map[string]string{"VisibilityTimeout": "1"},
	}); err != nil {
		t.Fatal(err)
	}
	return queue, dlq
}
