package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pccc/pccc/infra/authority"
	"github.com/pccc/pccc/infra/consistency"
	"github.com/pccc/pccc/infra/keyadmin"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/stats"
	"github.com/pccc/pccc/shared/statsexport"
	"github.com/pccc/pccc/shared/testkit"
)

const statsBucket = "pccc-local-statsbucket"

// bucketObjects reads every object under the export's prefix.
func bucketObjects(t *testing.T, s *system) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	c := clients(t, s)
	out := map[string][]byte{}
	p := s3.NewListObjectsV2Paginator(c.S3, &s3.ListObjectsV2Input{Bucket: aws.String(statsBucket), Prefix: aws.String("stats/daily/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			r, err := c.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(statsBucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			_, _ = b.ReadFrom(r.Body)
			r.Body.Close()
			out[aws.ToString(o.Key)] = b.Bytes()
		}
	}
	return out
}

// exportDaily fires the export's schedule as EventBridge Scheduler would
// and returns the days it wrote.
func (s *system) exportDaily(t *testing.T) []string {
	t.Helper()
	r := s.do(t, http.MethodPost, "/_local/schedules/StatsExportFunctionDaily", "", "")
	if r.status != 200 {
		t.Fatalf("fire the export: %d %s", r.status, r.raw)
	}
	res, _ := r.body["result"].(map[string]any)
	var days []string
	for _, d := range res["written"].([]any) {
		days = append(days, d.(string))
	}
	return days
}

// exportedDay reads a day back from its files.
func exportedDay(t *testing.T, objects map[string][]byte, day string) stats.Daily {
	t.Helper()
	p := statsexport.Prefix(day)
	d, err := statsexport.ParseDay(objects[p+"csv/pccc-stats-"+day+".csv"], objects[p+"hourly-csv/pccc-stats-hourly-"+day+".csv"])
	if err != nil {
		t.Fatalf("%s: %v", day, err)
	}
	return d
}

// Mixed commands either side of midnight in Korea (the runner's clock
// moved across it) each land on their own day and hour; the scheduled
// export writes each day's files and manifest to the local bucket, their
// figures equal the succeeded commands, a second run writes the same
// bytes and a missing day is filled; the authority's route and the
// operator's command give the same figures; a broker's key is refused and
// every bad input named; nothing personal is in any of it.
func TestStatsExportAcrossMidnight(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		ctx := context.Background()
		// 23:50 on 1 December 2025 in Korea.
		clock := testkit.NewClock(time.Date(2025, 12, 1, 14, 50, 0, 0, time.UTC))
		s := startOnClock(t, kind, sessionEnv(map[string]string{"CLEARANCE_CHECKS_PER_CODE_PER_HOUR": "1000"}), clock)
		brokerKey, brokerID := newKey(t, s, "ACME Express", 1000)
		hkA, hkB, hkC := "stats-a-"+string(kind), "stats-b-"+string(kind), "stats-c-"+string(kind)
		run := func(hk, method, path, body string) map[string]any {
			t.Helper()
			tok := mintAt(t, hk, clock.Now)
			return s.succeeded(t, tok, accepted(t, s.call(t, method, path, tok, "", body)))
		}
		check := func(code, name string) {
			t.Helper()
			if r := s.check(t, "ApiKey "+brokerKey, checkBody(code, name, codeMarkerPhone, "04524")); r.status != 200 {
				t.Fatalf("check: %d %s", r.status, r.raw)
			}
		}

		// Day 1, hour 23: two issues, a reissue (lost), a matching check.
		codeA1, _ := run(hkA, "POST", "/v1/codes", issueBody())["code"].(string)
		codeB, _ := run(hkB, "POST", "/v1/codes", issueBody())["code"].(string)
		codeA2, _ := run(hkA, "POST", "/v1/codes/me/reissue", `{"reason":"lost"}`)["code"].(string)
		check(codeA2, markerKorean)

		// Day 2, hour 0: a suspension and resumption, a cancellation, an
		// issue, a mismatching check.
		clock.Advance(20 * time.Minute)
		run(hkA, "POST", "/v1/codes/me/suspend", "")
		run(hkA, "POST", "/v1/codes/me/resume", "")
		run(hkB, "POST", "/v1/codes/me/cancel", "")
		codeC, _ := run(hkC, "POST", "/v1/codes", issueBody())["code"].(string)
		check(codeB, "WRONG PERSON")

		// 00:20 on 3 December: the export's time.
		clock.Advance(24*time.Hour + 10*time.Minute)
		written := s.exportDaily(t)
		week := []string{"2025-11-26", "2025-11-27", "2025-11-28", "2025-11-29", "2025-11-30", "2025-12-01", "2025-12-02"}
		if !slices.Equal(written, week) {
			t.Fatalf("the first run wrote %v, want the week up to yesterday %v", written, week)
		}
		objects := bucketObjects(t, s)
		for _, day := range week {
			var m statsexport.ManifestDoc
			if err := json.Unmarshal(objects[statsexport.Prefix(day)+"manifest.json"], &m); err != nil || m.Day != day || len(m.Files) != 4 {
				t.Fatalf("%s manifest: %+v %v", day, m, err)
			}
			for _, f := range m.Files {
				if len(objects[statsexport.Prefix(day)+f.Name]) != f.Bytes {
					t.Errorf("%s %s: %d bytes, manifest %d", day, f.Name, len(objects[statsexport.Prefix(day)+f.Name]), f.Bytes)
				}
			}
		}
		want := map[string]map[int]stats.Figures{
			"2025-12-01": {23: {stats.Issued: 2, stats.Reissued: 1, stats.ReissuedLost: 1, stats.ChecksMatch: 1}},
			"2025-12-02": {0: {stats.Issued: 1, stats.Suspended: 1, stats.SuspendedByHolder: 1, stats.Resumed: 1,
				stats.Cancelled: 1, stats.CancelledByHolder: 1, stats.ChecksMismatch: 1}},
		}
		var exported []stats.Daily
		for _, day := range week {
			d := exportedDay(t, objects, day)
			exported = append(exported, d)
			for h := range 24 {
				// The SMS go out at the provider's rate, after the
				// commands, at whatever the clock reads then: compared
				// with the sender's own outcomes below.
				got := maps.Clone(d.Hours[h])
				for _, k := range []stats.Kind{stats.SMSNoticesSent, stats.SMSParts} {
					delete(got, k)
				}
				if !maps.Equal(got, want[day][h]) {
					t.Errorf("%s %02d:00 exported %v, want %v", day, h, got, want[day][h])
				}
			}
		}
		rep, err := consistency.Check(ctx, clients(t, s).DynamoDB, localTable, consistency.Input{Exported: exported})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || rep.Exported[stats.Issued] != 3 || rep.SucceededByKind[stats.Issued] != 3 {
			t.Errorf("the export against the succeeded commands: %v (exported %v, succeeded %v)", rep.Violations, rep.Exported, rep.SucceededByKind)
		}

		// The SMS counters are the sender's outcomes: each notice sent is
		// counted, with its parts, on the day the clock read when it went.
		smsDays := append(slices.Clone(week), "2025-12-03")
		var sent, counted, parts int64
		deadline := time.Now().Add(30 * time.Second)
		for {
			sent = int64(strings.Count(s.logs.String(), `"kind":"notice","outcome":"sent","parts":1,`))
			got, err := dynamo.NewStats(clients(t, s).DynamoDB, localTable).Read(ctx, smsDays, false)
			if err != nil {
				t.Fatal(err)
			}
			counted, parts = 0, 0
			for _, d := range got {
				counted += d.Counts[stats.SMSNoticesSent]
				parts += d.Counts[stats.SMSParts]
			}
			if (sent == counted && parts == counted && sent > 0) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("notices: %d sent, %d counted, after %v", sent, counted, 30*time.Second-time.Until(deadline))
		if sent == 0 || counted != sent || parts != sent {
			t.Errorf("notices sent %d (one part each), counted %d with %d parts", sent, counted, parts)
		}

		// Again: only yesterday, the same bytes.
		if again := s.exportDaily(t); !slices.Equal(again, []string{"2025-12-02"}) {
			t.Errorf("the second run wrote %v", again)
		}
		if now := bucketObjects(t, s); !maps.EqualFunc(now, objects, bytes.Equal) {
			t.Error("the second run changed the files")
		}
		// A day whose manifest is missing is written again, whole.
		if _, err := clients(t, s).S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(statsBucket), Key: aws.String(statsexport.Prefix("2025-11-28") + "manifest.json")}); err != nil {
			t.Fatal(err)
		}
		if filled := s.exportDaily(t); !slices.Equal(filled, []string{"2025-11-28", "2025-12-02"}) {
			t.Errorf("after losing a manifest the run wrote %v", filled)
		}
		if now := bucketObjects(t, s); !maps.EqualFunc(now, objects, bytes.Equal) {
			t.Error("the filled day differs from the first run's")
		}

		// The authority's route: the same rows as the files.
		var out, errOut bytes.Buffer
		if err := keyadmin.Run(ctx, dynamo.NewAPIKeyStore(clients(t, s).DynamoDB, localTable),
			[]string{"create", "-owner", "Korea Customs Service", "-role", "authority"}, time.Now, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		m := keyLine.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("create printed %q", out.String())
		}
		authKey, authID := m[2], m[1]
		get := func(key, query string) reply {
			t.Helper()
			h := map[string]string{}
			if key != "" {
				h["Authorization"] = "ApiKey " + key
			}
			return s.send(t, http.MethodGet, "/v1/authority/stats"+query, h, "")
		}
		r := get(authKey, "?from=2025-11-26&to=2025-12-02&format=csv")
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %s", r.status, r.raw)
		}
		lines := strings.Split(strings.TrimSuffix(r.raw, "\r\n"), "\r\n")
		if len(lines) != 8 || lines[0] != strings.Join(statsexport.Columns(false), ",") {
			t.Fatalf("csv rows %q", lines)
		}
		for i, day := range week {
			file := strings.Split(string(objects[statsexport.Prefix(day)+"csv/pccc-stats-"+day+".csv"]), "\r\n")
			if lines[i+1] != file[1] {
				t.Errorf("%s: route %q, file %q", day, lines[i+1], file[1])
			}
		}
		rj := get(authKey, "?from=2025-12-01&to=2025-12-02&format=json")
		var rows []map[string]any
		if err := json.Unmarshal([]byte(rj.raw), &rows); err != nil || len(rows) != 2 || rows[0]["reissued"] != 1.0 || rows[1]["cancelled"] != 1.0 {
			t.Errorf("json: %d %s", rj.status, rj.raw)
		}
		var fileRows []map[string]any
		_ = json.Unmarshal(objects[statsexport.Prefix("2025-12-02")+"json/pccc-stats-2025-12-02.json"], &fileRows)
		if len(rows) == 2 && (len(fileRows) != 1 || !maps.Equal(rows[1], fileRows[0])) {
			t.Errorf("json of 2 Dec: route %v, file %v", rows[1], fileRows)
		}
		rp := get(authKey, "?from=2025-11-26&to=2025-12-02&format=png")
		if _, err := png.Decode(strings.NewReader(rp.raw)); rp.status != 200 || err != nil || rp.header.Get("Content-Type") != "image/png" {
			t.Errorf("png: %d %v", rp.status, err)
		}

		// The operator's command: the route's bytes.
		dir := t.TempDir()
		opRun := func(args ...string) ([]byte, error) {
			path := filepath.Join(dir, "out")
			err := authority.RunStats(ctx, dynamo.NewStats(clients(t, s).DynamoDB, localTable), append(args, "-o", path), clock.Now, &bytes.Buffer{}, &bytes.Buffer{})
			b, _ := os.ReadFile(path)
			_ = os.Remove(path)
			return b, err
		}
		if b, err := opRun("-from", "2025-11-26", "-to", "2025-12-02", "-format", "csv"); err != nil || string(b) != r.raw {
			t.Errorf("the command's CSV differs from the route's (%v)", err)
		}
		if b, err := opRun("-from", "2025-11-26", "-to", "2025-12-02", "-format", "png"); err != nil || string(b) != rp.raw {
			t.Errorf("the command's PNG differs from the route's (%v)", err)
		}
		excel, err := opRun("-from", "2025-12-01", "-to", "2025-12-02", "-excel")
		if err != nil || !bytes.HasPrefix(excel, []byte("\ufeff일자,발급,재발급")) {
			t.Errorf("-excel: %q %v", excel[:min(len(excel), 40)], err)
		}
		if _, err := opRun("-from", "2025-12-02", "-to", "2025-12-01"); err == nil || !strings.Contains(err.Error(), "-to") {
			t.Errorf("a reversed range: %v", err)
		}

		// Refusals.
		if r := get(brokerKey, "?from=2025-12-01&to=2025-12-02"); r.status != 403 || r.errCode != "FORBIDDEN" {
			t.Errorf("a broker's key: %d %s", r.status, r.raw)
		}
		if r := get("", "?from=2025-12-01&to=2025-12-02"); r.status != 401 {
			t.Errorf("no key: %d %s", r.status, r.raw)
		}
		for query, fields := range map[string][]string{
			"": {"from", "to"},
			"?from=2025-12-01&to=2025-12-02&format=xml": {"format"},
			"?from=1%20Dec&to=2025-12-02":               {"from"},
			"?from=2025-12-02&to=2025-12-01":            {"to"},
			"?from=2024-12-01&to=2025-12-02":            {"to"}, // 367 days
			"?from=2025-12-01&to=2025-12-04":            {"to"}, // tomorrow
		} {
			r := get(authKey, query)
			if r.status != 400 {
				t.Errorf("%q: %d %s", query, r.status, r.raw)
				continue
			}
			for _, f := range fields {
				if r.fields[f] == nil {
					t.Errorf("%q: the 400 does not name %s: %s", query, f, r.raw)
				}
			}
		}

		// A year of days (366) is read in BatchGetItem calls of 100 shard
		// items: ceil(366 x 16 / 100) = 59, more only if the table hands
		// keys back unprocessed; the reader has no Scan to make.
		year, _ := stats.Days("2024-12-31", "2025-12-31", stats.MaxRange)
		wantCalls := (len(year)*dynamo.StatShards + 99) / 100
		for _, hourly := range []bool{false, true} {
			counter := &countingReads{StatsAPI: clients(t, s).DynamoDB}
			got, err := dynamo.NewStats(counter, localTable).Read(ctx, year, hourly)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d days (hours: %v) read in %d BatchGetItem calls (%d shard items; no scan)", kind, len(year), hourly, counter.calls, len(year)*dynamo.StatShards)
			if counter.calls < wantCalls || counter.calls > 2*wantCalls {
				t.Errorf("%d calls, want %d", counter.calls, wantCalls)
			}
			if got[335].Day != "2025-12-01" || got[335].Counts[stats.Issued] != 2 {
				t.Errorf("1 Dec read %+v", got[335])
			}
		}

		// No personal data in any file, manifest, answer or chart.
		all := [][]byte{[]byte(r.raw), []byte(rj.raw), []byte(rp.raw), excel}
		for _, b := range bucketObjects(t, s) {
			all = append(all, b)
		}
		for _, b := range all {
			for _, marker := range []string{markerKorean, markerEnglish, "markerperson", markerAddress, markerDetail, codeMarkerPhone,
				"7777-8888", markerEmail, "04524", codeA1, codeA2, codeB, codeC, hkA, hkB, hkC, "ACME", "Korea Customs", brokerID, authID} {
				if bytes.Contains(b, []byte(marker)) {
					t.Errorf("an export holds %q", marker)
				}
			}
		}
	})
}

// countingReads counts the BatchGetItem calls the stats reader makes; it
// has no Scan to make.
type countingReads struct {
	dynamo.StatsAPI
	calls int
}

func (c *countingReads) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.calls++
	return c.StatsAPI.BatchGetItem(ctx, in, opts...)
}
