package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/infra/authority"
	"github.com/pccc/pccc/infra/bench"
	"github.com/pccc/pccc/infra/keyadmin"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/stats"
)

// makeKey creates an API key of role ("" for the default, broker).
func (s *system) makeKey(t *testing.T, owner, role string) string {
	t.Helper()
	args := []string{"create", "-owner", owner}
	if role != "" {
		args = append(args, "-role", role)
	}
	var out, errOut bytes.Buffer
	if err := keyadmin.Run(context.Background(), dynamo.NewAPIKeyStore(clients(t, s).DynamoDB, localTable), args, time.Now, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	m := keyLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("create printed %q", out.String())
	}
	return m[2]
}

// authority calls a campaign route with an API key.
func (s *system) authority(t *testing.T, key, method, path, body string) reply {
	t.Helper()
	h := map[string]string{"Authorization": "ApiKey " + key}
	if body != "" {
		h["Content-Type"] = "application/json"
	}
	return s.send(t, method, path, h, body)
}

// campaignIn waits until a campaign is in one of states and returns it.
func (s *system) campaignIn(t *testing.T, key, id string, within time.Duration, states ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	var last reply
	for time.Now().Before(deadline) {
		last = s.authority(t, key, http.MethodGet, "/v1/authority/campaigns/"+id, "")
		if last.status == http.StatusServiceUnavailable && last.header.Get("Retry-After") != "" {
			// Busy: wait as told, as a client does.
			secs, _ := strconv.Atoi(last.header.Get("Retry-After"))
			time.Sleep(time.Duration(max(1, secs)) * time.Second)
			continue
		}
		if last.status != http.StatusOK {
			t.Fatalf("campaign %s: %d %s", id, last.status, last.raw)
		}
		for _, st := range states {
			if last.body["state"] == st {
				return last.body
			}
		}
		// As often as a person's screen would ask: each read sums the
		// campaign's counters (a Query, which the embedded DynamoDB
		// answers by reading the whole table).
		time.Sleep(250 * time.Millisecond)
	}
	errs := map[string]int{}
	for _, l := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(l, "campaign") && strings.Contains(l, `"err"`) {
			i := strings.Index(l, `"err"`)
			errs[l[i:min(len(l), i+160)]]++
		}
	}
	t.Fatalf("campaign %s not %v within %s: %s\nerrors: %v", id, states, within, last.raw, errs)
	return nil
}

// totalsOf reads a view's totals as numbers.
func totalsOf(v map[string]any) map[string]int64 {
	out := map[string]int64{}
	t, _ := v["totals"].(map[string]any)
	for k, x := range t {
		if f, ok := x.(float64); ok {
			out[k] = int64(f)
		}
	}
	if sk, ok := t["skipped"].(map[string]any); ok {
		for k, x := range sk {
			out["skipped."+k] = int64(x.(float64))
		}
	}
	return out
}

// fetch GETs a presigned URL.
func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET report: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// reportRows reads a report CSV into its rows after the header.
func reportRows(t *testing.T, csv string) [][]string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(csv, "\r\n"), "\r\n")
	if lines[0] != "line,code,outcome,reason" {
		t.Fatalf("report header %q", lines[0])
	}
	var rows [][]string
	for _, l := range lines[1:] {
		rows = append(rows, strings.Split(l, ","))
	}
	return rows
}

// seqCode is the n-th code of a test's own range, check digit right.
func seqCode(prefix, n int) string { return bench.SeededCode(prefix, n) }

// seedHolders writes holders with live codes, and for each a retired
// code of before, straight into the table (bench.SeedHolders).
func (s *system) seedHolders(t *testing.T, prefix, n int) (live, retired []string, holders []string) {
	t.Helper()
	live, retired, holders, err := bench.SeedHolders(context.Background(), clients(t, s).DynamoDB, localTable, prefix, n)
	if err != nil {
		t.Fatal(err)
	}
	return live, retired, holders
}

// holderStatus reads a seeded holder's code and status.
func (s *system) holderStatus(t *testing.T, hk string) (code, status, by string, version int64) {
	t.Helper()
	h, err := dynamo.NewCodeStore(clients(t, s).DynamoDB, localTable, nil).Holder(context.Background(), hk)
	if err != nil {
		t.Fatal(err)
	}
	return h.Code, h.Status, h.SuspendedBy, h.Version
}

func campaignBody(action string, dry bool, codes []string) string {
	b, _ := json.Marshal(map[string]any{"action": action, "reason": "misuse_suspected", "ratePerSecond": 50, "dryRun": dry, "codes": codes})
	return string(b)
}

// TestCampaignRoutes: the routes' answers to bad input and to a broker,
// a dry run that changes nothing, a campaign that waits for its
// confirmation and then suspends a real holder's code (by the authority:
// the holder can no longer lift it), its report and its statistics.
func TestCampaignRoutes(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(nil))
		began := time.Now()
		auth := s.makeKey(t, "Korea Customs Service", "authority")
		broker := s.makeKey(t, "Some Broker", "")

		// Broker keys: 403 on every route; no key: 401.
		fake := "/v1/authority/campaigns/AAAAAAAAAAAAAAAAAAAAAA"
		for _, r := range []struct{ method, path string }{
			{"POST", "/v1/authority/campaigns"}, {"GET", fake}, {"POST", fake + "/confirm"},
			{"POST", fake + "/pause"}, {"POST", fake + "/resume"}, {"POST", fake + "/cancel"},
		} {
			if rep := s.authority(t, broker, r.method, r.path, campaignBody("suspend", false, []string{seqCode(900, 1)})); rep.status != 403 || rep.errCode != "FORBIDDEN" {
				t.Errorf("broker %s %s: %d %s", r.method, r.path, rep.status, rep.raw)
			}
			if rep := s.send(t, r.method, r.path, nil, ""); rep.status != 401 {
				t.Errorf("no key %s %s: %d", r.method, r.path, rep.status)
			}
		}
		// Bad input: 400 naming each field.
		rep := s.authority(t, auth, "POST", "/v1/authority/campaigns", `{"action":"delete","reason":"because","ratePerSecond":0.5}`)
		if rep.status != 400 || rep.fields["action"] == nil || rep.fields["reason"] == nil || rep.fields["ratePerSecond"] == nil || rep.fields["codes"] == nil {
			t.Fatalf("bad create: %d %s", rep.status, rep.raw)
		}
		many := make([]string, 1001)
		for i := range many {
			many[i] = seqCode(900, i)
		}
		if rep := s.authority(t, auth, "POST", "/v1/authority/campaigns", campaignBody("suspend", false, many)); rep.status != 400 || rep.fields["codes"] == nil {
			t.Fatalf("1001 codes: %d %s", rep.status, rep.raw)
		}
		if rep := s.authority(t, auth, "POST", "/v1/authority/campaigns", `{"action":"suspend","reason":"other","ratePerSecond":100000,"codes":["P1"]}`); rep.status != 400 || rep.fields["ratePerSecond"] == nil || len(rep.fields) != 1 {
			t.Fatalf("rate above the cap: %d %s", rep.status, rep.raw)
		}
		if rep := s.authority(t, auth, "GET", "/v1/authority/campaigns/not-an-id", ""); rep.status != 400 || rep.fields["campaignId"] == nil {
			t.Fatalf("bad id: %d %s", rep.status, rep.raw)
		}
		if rep := s.authority(t, auth, "GET", fake, ""); rep.status != 404 {
			t.Fatalf("unknown campaign: %d %s", rep.status, rep.raw)
		}

		// A real holder, with a phone.
		hk := "campaign-holder-1"
		tok, code := s.issueWithPhone(t, hk, "01055550101")
		list := []string{code, "P12345", "  " + strings.ToLower(code) + " ", seqCode(901, 7), ""}

		// A dry run counts and changes nothing.
		rep = s.authority(t, auth, "POST", "/v1/authority/campaigns", campaignBody("suspend", true, list))
		if rep.status != 201 || rep.body["state"] != "created" || rep.header.Get("Location") == "" {
			t.Fatalf("create dry run: %d %s", rep.status, rep.raw)
		}
		dry := rep.body["campaignId"].(string)
		v := s.campaignIn(t, auth, dry, 20*time.Second, "complete")
		tot := totalsOf(v)
		if tot["listed"] != 4 || tot["invalid"] != 1 || tot["duplicate"] != 1 || tot["valid"] != 2 || tot["processed"] != 0 || v["dryRun"] != true {
			t.Fatalf("dry run totals: %v", v)
		}
		if sms, _ := v["sms"].(map[string]any); sms == nil || sms["notices"] != 2.0 || sms["parts"] != 2.0 {
			t.Errorf("dry run SMS estimate: %v", v["sms"])
		}
		if rep := s.authority(t, auth, "POST", "/v1/authority/campaigns/"+dry+"/confirm", ""); rep.status != 409 {
			t.Errorf("confirm a dry run: %d %s", rep.status, rep.raw)
		}

		// A campaign awaits its confirmation and changes nothing meanwhile.
		rep = s.authority(t, auth, "POST", "/v1/authority/campaigns", campaignBody("suspend", false, list))
		id := rep.body["campaignId"].(string)
		v = s.campaignIn(t, auth, id, 20*time.Second, "awaiting_confirmation")
		if prev, _ := v["preview"].([]any); len(prev) != 2 || prev[0] != code {
			t.Errorf("preview %v", v["preview"])
		}
		time.Sleep(time.Second)
		if look := s.call(t, "GET", "/v1/codes/me", tok, "", ""); look.body["status"] != "active" {
			t.Fatalf("changed before its confirmation: %s", look.raw)
		}
		if rep := s.authority(t, auth, "POST", "/v1/authority/campaigns/"+id+"/pause", ""); rep.status != 409 {
			t.Errorf("pause before confirm: %d %s", rep.status, rep.raw)
		}
		if rep := s.authority(t, auth, "POST", "/v1/authority/campaigns/"+id+"/confirm", `{"x":1}`); rep.status != 400 {
			t.Errorf("confirm with a body: %d %s", rep.status, rep.raw)
		}
		if rep := s.authority(t, auth, "POST", "/v1/authority/campaigns/"+id+"/confirm", ""); rep.status != 200 || rep.body["state"] != "active" {
			t.Fatalf("confirm: %d %s", rep.status, rep.raw)
		}
		v = s.campaignIn(t, auth, id, 30*time.Second, "complete")
		tot = totalsOf(v)
		if tot["done"] != 1 || tot["skipped.unknown_code"] != 1 || tot["processed"] != 2 || tot["failed"] != 0 {
			t.Fatalf("totals: %v", v["totals"])
		}
		look := s.call(t, "GET", "/v1/codes/me", tok, "", "")
		if look.body["status"] != "suspended" || look.body["suspendedBy"] != "authority" {
			t.Fatalf("after the campaign: %s", look.raw)
		}
		if r := s.call(t, "POST", "/v1/codes/me/resume", tok, "", ""); r.status != 403 || r.errCode != "POLICY_DENIED" {
			t.Fatalf("the holder lifts the authority's suspension: %d %s", r.status, r.raw)
		}
		if n := s.waitSMS(t, "01055550101", "정지되었습니다", 1); n != 1 {
			t.Errorf("suspension notices: %d", n)
		}
		// The report: every listed line once.
		v = s.campaignIn(t, auth, id, 10*time.Second, "complete")
		for v["reportUrl"] == nil {
			time.Sleep(50 * time.Millisecond)
			v = s.campaignIn(t, auth, id, 10*time.Second, "complete")
		}
		rows := reportRows(t, fetch(t, v["reportUrl"].(string)))
		want := [][]string{{"1", code, "done", ""}, {"2", "", "invalid", ""}, {"3", code, "duplicate", ""}, {"4", seqCode(901, 7), "skipped", "unknown_code"}}
		if fmt.Sprint(rows) != fmt.Sprint(want) {
			t.Errorf("report %v, want %v", rows, want)
		}
		if f := fetch(t, v["failedUrl"].(string)); f != "" {
			t.Errorf("failed list %q", f)
		}
		// The operator command gives the same, through the API.
		env := func(k string) string {
			return map[string]string{"PCCC_API_URL": s.url, "PCCC_API_KEY": auth}[k]
		}
		var out, errOut bytes.Buffer
		if err := authority.RunCampaign(context.Background(), []string{"show", id}, env, nil, &out, &errOut); err != nil || !strings.Contains(out.String(), `"state": "complete"`) {
			t.Errorf("campaign show: %v %s", err, out.String())
		}
		path := t.TempDir() + "/report.csv"
		if err := authority.RunCampaign(context.Background(), []string{"report", id, "-o", path}, env, nil, &out, &errOut); err != nil {
			t.Errorf("campaign report: %v", err)
		} else if b, _ := os.ReadFile(path); len(reportRows(t, string(b))) != 4 {
			t.Errorf("campaign report file %q", b)
		}
		if err := authority.RunCampaign(context.Background(), []string{"pause", id}, env, nil, &out, &errOut); err == nil || !strings.Contains(err.Error(), "409") {
			t.Errorf("campaign pause of a complete campaign: %v", err)
		}
		// A notify campaign tells the holder, once, with the last 4 digits.
		rep = s.authority(t, auth, "POST", "/v1/authority/campaigns", campaignBody("notify", false, []string{code, code}))
		nid := rep.body["campaignId"].(string)
		s.campaignIn(t, auth, nid, 20*time.Second, "awaiting_confirmation")
		s.authority(t, auth, "POST", "/v1/authority/campaigns/"+nid+"/confirm", "")
		s.campaignIn(t, auth, nid, 30*time.Second, "complete")
		if n := s.waitSMS(t, "01055550101", code[len(code)-4:]+")", 1); n != 1 {
			t.Errorf("notify campaign notices: %d", n)
		}
		got := countsToday(t, s, began)
		if got[stats.CampaignItemsDone] != 2 || got[stats.CampaignItemsSkipped] != 1 || got[stats.SuspendedByAuthority] != 1 {
			t.Errorf("statistics: done %d skipped %d suspended by authority %d", got[stats.CampaignItemsDone], got[stats.CampaignItemsSkipped], got[stats.SuspendedByAuthority])
		}
		_ = aws.String
	})
}

// upload PUTs a list to a campaign's presigned URL.
func upload(t *testing.T, url, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
}

// uploaded creates a campaign whose list is uploaded, uploads it and
// confirms the upload; it returns the id once the list awaits confirmation.
func (s *system) uploaded(t *testing.T, key, action string, lines []string) (string, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"action": action, "reason": "leak_concern", "ratePerSecond": 5000, "list": "upload"})
	rep := s.authority(t, key, "POST", "/v1/authority/campaigns", string(b))
	if rep.status != 201 || rep.body["uploadUrl"] == nil || rep.body["state"] != "created" {
		t.Fatalf("create an upload: %d %s", rep.status, rep.raw)
	}
	id := rep.body["campaignId"].(string)
	if r := s.authority(t, key, "POST", "/v1/authority/campaigns/"+id+"/pause", ""); r.status != 409 {
		t.Fatalf("pause before the upload: %d %s", r.status, r.raw)
	}
	upload(t, rep.body["uploadUrl"].(string), strings.Join(lines, "\r\n")+"\r\n")
	if r := s.authority(t, key, "POST", "/v1/authority/campaigns/"+id+"/confirm", ""); r.status != 200 {
		t.Fatalf("confirm the upload: %d %s", r.status, r.raw)
	}
	return id, s.campaignIn(t, key, id, 30*time.Second, "awaiting_confirmation", "failed")
}

// processedOf reads a campaign's processed count.
func (s *system) processedOf(t *testing.T, key, id string) int64 {
	t.Helper()
	return totalsOf(s.campaignIn(t, key, id, 30*time.Second, "created", "preparing", "awaiting_confirmation", "active", "paused", "complete", "cancelled", "failed"))["processed"]
}

// reportOf waits for an ended campaign's report and reads its rows.
func (s *system) reportOf(t *testing.T, key, id string) [][]string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		v := s.campaignIn(t, key, id, time.Second, "complete", "cancelled", "failed")
		if u, ok := v["reportUrl"].(string); ok {
			return reportRows(t, fetch(t, u))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("campaign %s: no report within 20s", id)
	return nil
}

// worstUnknownShare is the largest share of unknown codes (those starting
// with prefix) among any n valid codes in a row of lines, repeats left
// out as the reader leaves them.
func worstUnknownShare(lines []string, prefix string, n int) float64 {
	var valid []bool
	seen := map[string]bool{}
	for _, l := range lines {
		if codes.Valid(l) && !seen[l] {
			seen[l] = true
			valid = append(valid, strings.HasPrefix(l, prefix))
		}
	}
	worst, in := 0.0, 0
	for i, unknown := range valid {
		if unknown {
			in++
		}
		if i >= n && valid[i-n] {
			in--
		}
		if i >= n-1 {
			worst = max(worst, float64(in)/float64(n))
		}
	}
	return worst
}

// TestCampaignAtScale runs a 10,000-line uploaded campaign of mixed lines
// (codes to suspend, retired codes, unknown codes, bad lines, repeats),
// paused halfway and resumed: every line is accounted for once in the
// totals and the report, each holder's code changed once. Then a
// campaign cancelled midway stops with its counts, and a list of mostly
// unknown codes fails by itself past the failure share.
func TestCampaignAtScale(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(map[string]string{"CAMPAIGN_MAX_RATE": "5000", "CAMPAIGN_WAIT": "1s"}))
		auth := s.makeKey(t, "Korea Customs Service", "authority")
		// The whole list on both stacks. (The embedded DynamoDB's
		// transactions cost their own items only: infra/localstack's shim
		// carries them out, where minidyn alone copied the whole table for
		// each.)
		nLive, nRetired, nUnknown, nInvalid, nDup := int64(3000), int64(1500), int64(2000), int64(1500), int64(2000)
		live, retired, holders := s.seedHolders(t, 910, int(nLive))
		var lines []string
		lines = append(lines, live...)
		lines = append(lines, retired[:nRetired]...)
		for i := range int(nUnknown) {
			lines = append(lines, seqCode(911, i))
		}
		for i := range int(nInvalid) {
			switch i % 3 {
			case 0:
				lines = append(lines, fmt.Sprintf("P%d", i))
			case 1:
				c := seqCode(912, i)
				lines = append(lines, c[:12]+string('0'+(c[12]-'0'+1)%10)) // a wrong check digit
			default:
				lines = append(lines, "not a code "+strconv.Itoa(i))
			}
		}
		for i := range int(nDup) {
			lines = append(lines, lines[(i*7)%int(nLive+nRetired+nUnknown)])
		}
		// A shuffle from a fixed seed, so repeats come after their first
		// line and before, and every stretch of the list holds about the
		// list's share of unknown codes (31 %): a stretch of mostly unknown
		// ones would fail the campaign by itself past the failure share
		// (50 %), as it should. (A shuffle by a fixed stride left stretches
		// of 500 unknown codes in a row.)
		rand.New(rand.NewPCG(910, 2026)).Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
		worst := worstUnknownShare(lines, seqCode(911, 0)[:4], 1000)
		if worst > 0.40 {
			t.Fatalf("the shuffled list has a stretch of 1,000 valid lines %.0f %% unknown", 100*worst)
		}
		t.Logf("at most %.0f %% unknown codes in any 1,000 valid lines in a row", 100*worst)
		id, v := s.uploaded(t, auth, "suspend", lines)
		tot := totalsOf(v)
		if tot["listed"] != int64(10000) || tot["invalid"] != nInvalid || tot["duplicate"] != nDup || tot["valid"] != nLive+nRetired+nUnknown || tot["processed"] != 0 {
			t.Fatalf("prepared totals %v", tot)
		}
		if c, _, _, _ := s.holderStatus(t, holders[0]); c != live[0] {
			t.Fatal("seeded holder unreadable")
		}
		if r := s.authority(t, auth, "POST", "/v1/authority/campaigns/"+id+"/confirm", ""); r.status != 200 {
			t.Fatalf("confirm: %d %s", r.status, r.raw)
		}
		// Pause once some are done: within a few seconds nothing more.
		for s.processedOf(t, auth, id) < int64(1000) {
			time.Sleep(250 * time.Millisecond)
		}
		if r := s.authority(t, auth, "POST", "/v1/authority/campaigns/"+id+"/pause", ""); r.status != 200 || r.body["state"] != "paused" {
			t.Fatalf("pause: %d %s", r.status, r.raw)
		}
		time.Sleep(2 * time.Second)
		held := s.processedOf(t, auth, id)
		time.Sleep(2 * time.Second)
		if now := s.processedOf(t, auth, id); now != held || held >= nLive+nRetired+nUnknown {
			t.Fatalf("paused, yet processed went from %d to %d", held, now)
		}
		if r := s.authority(t, auth, "POST", "/v1/authority/campaigns/"+id+"/resume", ""); r.status != 200 || r.body["state"] != "active" {
			t.Fatalf("resume: %d %s", r.status, r.raw)
		}
		within := 240 * time.Second
		v = s.campaignIn(t, auth, id, within, "complete", "failed")
		tot = totalsOf(v)
		if v["state"] != "complete" || tot["done"] != nLive || tot["skipped.already_retired"] != nRetired || tot["skipped.unknown_code"] != nUnknown ||
			tot["skipped.wrong_state"] != 0 || tot["failed"] != 0 || tot["processed"] != nLive+nRetired+nUnknown {
			t.Fatalf("final %s %v", v["state"], tot)
		}
		rows := s.reportOf(t, auth, id)
		if len(rows) != len(lines) {
			t.Fatalf("report has %d rows for %d lines", len(rows), len(lines))
		}
		outcomes := map[string]int64{}
		for i, r := range rows {
			if r[0] != strconv.Itoa(i+1) {
				t.Fatalf("row %d is line %s", i, r[0])
			}
			outcomes[r[2]+"/"+r[3]]++
		}
		want := map[string]int64{"done/": nLive, "skipped/already_retired": nRetired, "skipped/unknown_code": nUnknown, "invalid/": nInvalid, "duplicate/": nDup}
		if fmt.Sprint(outcomes) != fmt.Sprint(want) {
			t.Errorf("report outcomes %v, want %v", outcomes, want)
		}
		// Each holder's code changed once: suspended by the authority, one
		// version on, one audit event.
		changed := 0
		for _, item := range tableItems(t, s) {
			pk := item["PK"].(*types.AttributeValueMemberS).Value
			if !strings.HasPrefix(pk, "HOLDER#seed910-") || item["SK"].(*types.AttributeValueMemberS).Value != "HOLDER" {
				continue
			}
			st := item["status"].(*types.AttributeValueMemberS).Value
			by := item["suspendedBy"].(*types.AttributeValueMemberS).Value
			ver := item["version"].(*types.AttributeValueMemberN).Value
			if st != "suspended" || by != "authority" || ver != "2" {
				t.Errorf("%s: %s by %s, version %s", pk, st, by, ver)
			}
			changed++
		}
		if int64(changed) != nLive {
			t.Errorf("%d holders changed, want %d", changed, nLive)
		}

		// Cancel midway: it stops with the counts so far.
		b, _ := json.Marshal(map[string]any{"action": "resume", "reason": "other", "ratePerSecond": 100, "list": "upload"})
		rep := s.authority(t, auth, "POST", "/v1/authority/campaigns", string(b))
		cid := rep.body["campaignId"].(string)
		upload(t, rep.body["uploadUrl"].(string), strings.Join(live, "\n"))
		s.authority(t, auth, "POST", "/v1/authority/campaigns/"+cid+"/confirm", "")
		s.campaignIn(t, auth, cid, 30*time.Second, "awaiting_confirmation")
		s.authority(t, auth, "POST", "/v1/authority/campaigns/"+cid+"/confirm", "")
		for s.processedOf(t, auth, cid) < int64(100) {
			time.Sleep(250 * time.Millisecond)
		}
		if r := s.authority(t, auth, "POST", "/v1/authority/campaigns/"+cid+"/cancel", ""); r.status != 200 || r.body["state"] != "cancelled" {
			t.Fatalf("cancel: %d %s", r.status, r.raw)
		}
		crow := s.reportOf(t, auth, cid)
		time.Sleep(time.Second)
		cv := s.campaignIn(t, auth, cid, time.Second, "cancelled")
		ctot := totalsOf(cv)
		if ctot["processed"] >= nLive || ctot["done"] != ctot["processed"] {
			t.Errorf("cancelled totals %v", ctot)
		}
		n := map[string]int64{}
		for _, r := range crow {
			n[r[2]]++
		}
		if n["done"] != ctot["done"] || n["not_run"] != nLive-ctot["done"] {
			t.Errorf("cancelled report %v, totals %v", n, ctot)
		}
		if r := s.authority(t, auth, "POST", "/v1/authority/campaigns/"+cid+"/resume", ""); r.status != 409 {
			t.Errorf("resume a cancelled campaign: %d", r.status)
		}

		// Mostly unknown codes: it fails by itself after the first 1,000.
		var unknown []string
		for i := range 1500 {
			unknown = append(unknown, seqCode(913, i))
		}
		unknown = append(unknown, live[:100]...)
		fid, _ := s.uploaded(t, auth, "notify", unknown)
		s.authority(t, auth, "POST", "/v1/authority/campaigns/"+fid+"/confirm", "")
		fv := s.campaignIn(t, auth, fid, within/2, "failed", "complete")
		ft := totalsOf(fv)
		if fv["state"] != "failed" || fv["stateReason"] != "failure_share" || ft["processed"] < min(1000, int64(1600)) || ft["processed"] >= 1600 {
			t.Errorf("mostly unknown: %s %v %v", fv["state"], fv["stateReason"], ft)
		}
	})
}
