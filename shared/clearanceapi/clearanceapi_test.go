package clearanceapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/clearance"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/logging"
	"github.com/pccc/pccc/shared/sealer"
	"github.com/pccc/pccc/shared/testkit"
)

// The fakes record every call they get, in order, in one trace, so a test
// can compare the work two checks did.
type trace struct{ calls []string }

func (tr *trace) add(s string) { tr.calls = append(tr.calls, s) }

type fakeCodes struct {
	tr    *trace
	codes map[string][2]string // code -> holder key, status
}

func (f *fakeCodes) CodeOwner(_ context.Context, code string) (string, string, error) {
	f.tr.add("CodeOwner")
	c, ok := f.codes[code]
	if !ok {
		return "", "", holder.ErrNoHolder
	}
	return c[0], c[1], nil
}

type fakeHolders struct {
	tr      *trace
	holders map[string]dynamo.Holder
	asked   []string
}

func (f *fakeHolders) Holder(_ context.Context, hk string) (dynamo.Holder, error) {
	f.tr.add("Holder")
	f.asked = append(f.asked, hk)
	h, ok := f.holders[hk]
	if !ok {
		return dynamo.Holder{}, holder.ErrNoHolder
	}
	return h, nil
}

type countingSealer struct {
	tr *trace
	*sealer.Sealer
}

func (s countingSealer) Open(aad, v string) ([]byte, error) {
	s.tr.add("Open")
	return s.Sealer.Open(aad, v)
}

type fakeLimiter struct {
	tr     *trace
	counts map[string]int
}

func (f *fakeLimiter) Allow(_ context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	f.tr.add("Allow")
	f.counts[key]++
	if f.counts[key] > limit {
		return false, 42 * time.Second, nil
	}
	return true, 0, nil
}

type fakeRecords struct {
	tr         *trace
	checks     []dynamo.Check
	mismatches map[string]int64
}

func (f *fakeRecords) Record(_ context.Context, c dynamo.Check) error {
	f.tr.add("Record")
	f.checks = append(f.checks, c)
	return nil
}

func (f *fakeRecords) CountMismatch(_ context.Context, code, day string, _ time.Time) (int64, error) {
	f.tr.add("CountMismatch")
	f.mismatches[code+"#"+day]++
	return f.mismatches[code+"#"+day], nil
}

type watcher struct{ seen []Mismatch }

func (w *watcher) Mismatched(_ context.Context, m Mismatch) error {
	w.seen = append(w.seen, m)
	return errors.New("the hook's failure is only logged")
}

var now = time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)

const (
	liveCode      = "P111111111116"
	suspendedCode = "P222222222222"
	retiredCode   = "P333333333338"
	foreignCode   = "P444444444444"
	unknownCode   = "P555555555550"
)

type fixture struct {
	tr      *trace
	holders *fakeHolders
	limiter *fakeLimiter
	records *fakeRecords
	watch   *watcher
	logs    *testkit.Buffer
	c       *Checker
}

func newFixture(t *testing.T, perCode int) *fixture {
	t.Helper()
	seal, err := sealer.New(map[string][]byte{"k1": []byte(strings.Repeat("d", 32))}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	tr := &trace{}
	sealed := func(hk string, d holder.Details) map[string]string {
		out := map[string]string{}
		for f, v := range d.Fields() {
			s, err := seal.Seal(holder.FieldAAD(hk, f), []byte(v))
			if err != nil {
				t.Fatal(err)
			}
			out[f] = s
		}
		return out
	}
	details := holder.Details{
		KoreanName: "홍길동", EnglishName: "HONG GILDONG", Nationality: "KR", Phone: "01012345678",
		Addresses: []holder.Address{{Zip: "04524", Address: "Sejong-daero 110"}, {Zip: "06236", Address: "Teheran-ro 1"}},
	}
	foreigner := holder.Details{EnglishName: "SMITH JOHN", Nationality: "US", Phone: "01087654321",
		Addresses: []holder.Address{{Zip: "13494", Address: "Pangyo-ro 1"}}}
	exp := now.AddDate(1, 0, 0)
	h := &fakeHolders{tr: tr, holders: map[string]dynamo.Holder{
		"hk-live":      {Key: "hk-live", Code: liveCode, Status: "active", ExpiresAt: exp, Sealed: sealed("hk-live", details)},
		"hk-suspended": {Key: "hk-suspended", Code: suspendedCode, Status: "suspended", ExpiresAt: exp, Sealed: sealed("hk-suspended", details)},
		"hk-reissued":  {Key: "hk-reissued", Code: "P999999999999", Status: "active", ExpiresAt: exp, Sealed: sealed("hk-reissued", details)},
		"hk-foreign":   {Key: "hk-foreign", Code: foreignCode, Status: "active", ExpiresAt: exp, Sealed: sealed("hk-foreign", foreigner)},
	}}
	f := &fixture{
		tr: tr, holders: h, limiter: &fakeLimiter{tr: tr, counts: map[string]int{}},
		records: &fakeRecords{tr: tr, mismatches: map[string]int64{}}, watch: &watcher{}, logs: &testkit.Buffer{},
	}
	f.c, err = NewChecker(Checker{
		Codes: &fakeCodes{tr: tr, codes: map[string][2]string{
			liveCode: {"hk-live", dynamo.CodeLive}, suspendedCode: {"hk-suspended", dynamo.CodeLive},
			retiredCode: {"hk-reissued", dynamo.CodeRetired}, foreignCode: {"hk-foreign", dynamo.CodeLive},
		}},
		Holders: h, Sealer: countingSealer{tr: tr, Sealer: seal}, Limiter: f.limiter, Records: f.records, Watch: f.watch,
		Log: logging.New(f.logs, "debug"), Now: func() time.Time { return now }, PerCodePerHour: perCode,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func query(code, name, phone, zip string) clearance.Query {
	q, err := clearance.Parse(clearance.Input{Code: &code, Name: &name, Phone: &phone, Zip: &zip})
	if err != nil {
		panic(fmt.Sprintf("bad test query: %v", err))
	}
	return q
}

var caller = apikey.Record{ID: "0123456789abcdef", Owner: "ACME", RatePerMinute: 1000}

// TestCheckSameWork: every failure does the same calls in the same order;
// a match does them too, less the mismatch counter.
func TestCheckSameWork(t *testing.T) {
	cases := []struct {
		name string
		q    clearance.Query
		want string
	}{
		{"match, Korean name", query(liveCode, "홍길동", "010-1234-5678", "04524"), clearance.Match},
		{"match, English name", query(liveCode, "Hong Gildong", "01012345678", "06236"), clearance.Match},
		{"match, foreigner", query(foreignCode, "SMITH JOHN", "01087654321", "13494"), clearance.Match},
		{"wrong name", query(liveCode, "홍길순", "01012345678", "04524"), clearance.Mismatch},
		{"wrong phone", query(liveCode, "홍길동", "01012345679", "04524"), clearance.Mismatch},
		{"wrong zip", query(liveCode, "홍길동", "01012345678", "04525"), clearance.Mismatch},
		{"old zip", query(liveCode, "홍길동", "01012345678", "045-245"), clearance.Mismatch},
		{"unknown code", query(unknownCode, "홍길동", "01012345678", "04524"), clearance.Mismatch},
		{"decoy's own details", query(unknownCode, "DECOY HOLDER", "01000000000", "00000"), clearance.Mismatch},
		{"suspended", query(suspendedCode, "홍길동", "01012345678", "04524"), clearance.Mismatch},
		{"retired by a reissue", query(retiredCode, "홍길동", "01012345678", "04524"), clearance.Mismatch},
		{"foreigner, Korean name asked", query(foreignCode, "홍길동", "01087654321", "13494"), clearance.Mismatch},
	}
	var failureTrace, matchTrace []string
	for _, tc := range cases {
		f := newFixture(t, 100)
		f.tr.calls = nil
		id, result, err := f.c.Check(context.Background(), caller, tc.q)
		if err != nil || result != tc.want || len(id) != 22 {
			t.Fatalf("%s: %q %q %v, want %s", tc.name, id, result, err, tc.want)
		}
		got := strings.Join(f.tr.calls, " ")
		ref := &failureTrace
		if result == clearance.Match {
			ref = &matchTrace
		}
		if *ref == nil {
			*ref = f.tr.calls
		} else if want := strings.Join(*ref, " "); got != want {
			t.Errorf("%s: calls %q, others %q", tc.name, got, want)
		}
		if len(f.records.checks) != 1 || f.records.checks[0].ID != id || f.records.checks[0].Result != result ||
			f.records.checks[0].KeyID != caller.ID || f.records.checks[0].Code != tc.q.Code {
			t.Errorf("%s: recorded %+v", tc.name, f.records.checks)
		}
		if tc.q.Code == unknownCode && (f.records.checks[0].HolderKey != "" || f.holders.asked[0] != decoyHolder) {
			t.Errorf("unknown code: recorded %+v, read holder %v", f.records.checks[0], f.holders.asked)
		}
		if result == clearance.Mismatch && (len(f.watch.seen) != 1 || f.watch.seen[0].Count != 1 || f.watch.seen[0].Day != "2026-12-01") {
			t.Errorf("%s: watcher saw %+v", tc.name, f.watch.seen)
		}
		if result == clearance.Match && len(f.watch.seen) != 0 {
			t.Errorf("%s: watcher saw a match", tc.name)
		}
		// The watcher gets the code owner's phone still sealed, to pass on
		// to the SMS sender; none for an unknown code.
		if result == clearance.Mismatch {
			m := f.watch.seen[0]
			owner := f.holders.holders[m.HolderKey]
			if m.Phone != owner.Sealed[holder.FieldPhone] || (tc.q.Code == unknownCode) != (m.Phone == "") || strings.Contains(m.Phone, "0101234") {
				t.Errorf("%s: watcher got phone %q for holder %q", tc.name, m.Phone, m.HolderKey)
			}
		}
	}
	want := "Allow CodeOwner Holder Open Open Open Open Record"
	if strings.Join(matchTrace, " ") != want || strings.Join(failureTrace, " ") != want+" CountMismatch" {
		t.Errorf("match did %v, failures %v", matchTrace, failureTrace)
	}
}

func TestCheckPerCodeLimit(t *testing.T) {
	f := newFixture(t, 3)
	ctx := context.Background()
	for i := range 3 {
		if _, r, err := f.c.Check(ctx, caller, query(liveCode, "김철수", fmt.Sprintf("0101111000%d", i), "04524")); err != nil || r != clearance.Mismatch {
			t.Fatalf("guess %d: %s %v", i, r, err)
		}
	}
	// The fourth check of the code, even the right one, even from another
	// key: 429 with the limiter's wait.
	other := caller
	other.ID = "fedcba9876543210"
	_, _, err := f.c.Check(ctx, other, query(liveCode, "홍길동", "01012345678", "04524"))
	if e := apperr.As(err); e.Code != apperr.RateLimited || e.RetryAfter != 42*time.Second {
		t.Fatalf("fourth check: %v", err)
	}
	// Unknown codes are counted alike, so the limit says nothing about
	// whether a code exists.
	for range 3 {
		if _, _, err := f.c.Check(ctx, caller, query(unknownCode, "김철수", "01011110000", "04524")); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.c.Check(ctx, caller, query(unknownCode, "김철수", "01011110000", "04524")); apperr.CodeOf(err) != apperr.RateLimited {
		t.Fatalf("fourth check of an unknown code: %v", err)
	}
	if n := f.records.mismatches[liveCode+"#2026-12-01"]; n != 3 {
		t.Errorf("%d mismatches counted on the code", n)
	}
}

// keyStore is a fake apikey.Reader.
type keyStore map[string]apikey.Record

func (k keyStore) Key(_ context.Context, id string) (apikey.Record, error) {
	if r, ok := k[id]; ok {
		return r, nil
	}
	return apikey.Record{}, apikey.ErrNoKey
}

func TestEndpoint(t *testing.T) {
	f := newFixture(t, 100)
	key, rec, err := apikey.New("ACME", 2, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.Handler(slog.New(slog.NewJSONHandler(f.logs, nil)), httpapi.Routes{
		RouteCheck: apikey.Require(keyStore{rec.ID: rec}, Endpoint(f.c)),
	})
	call := func(auth, body string) events.APIGatewayV2HTTPResponse {
		ev := events.APIGatewayV2HTTPRequest{RouteKey: RouteCheck, Body: body, Headers: map[string]string{"content-type": "application/json"}}
		if auth != "" {
			ev.Headers["authorization"] = auth
		}
		resp, err := h(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	body := `{"code":"` + liveCode + `","name":"홍길동","phone":"010-1234-5678","zip":"04524"}`
	if r := call("", body); r.StatusCode != 401 {
		t.Errorf("no key: %d %s", r.StatusCode, r.Body)
	}
	r := call("ApiKey "+key, body)
	var out CheckResponse
	if err := json.Unmarshal([]byte(r.Body), &out); r.StatusCode != 200 || err != nil || out.Result != clearance.Match || len(out.CheckID) != 22 {
		t.Errorf("match: %d %s", r.StatusCode, r.Body)
	}
	if r := call("ApiKey "+key, `{"code":"`+liveCode+`"}`); r.StatusCode != 400 || !strings.Contains(r.Body, `"name"`) {
		t.Errorf("missing fields: %d %s", r.StatusCode, r.Body)
	}
	// The key's rate is 2 a minute: the third call is refused before its
	// body is looked at.
	if r := call("ApiKey "+key, "not json"); r.StatusCode != 429 || r.Headers["Retry-After"] != "42" || !strings.Contains(r.Body, "RATE_LIMITED") {
		t.Errorf("over the key's rate: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	for _, m := range []string{"홍길동", "01012345678", "010-1234-5678", key} {
		if strings.Contains(f.logs.String(), m) {
			t.Errorf("logs hold %q", m)
		}
	}
	if !strings.Contains(f.logs.String(), rec.ID) {
		t.Errorf("logs do not name the key id")
	}
}

func request(body string) *httpapi.Request {
	return &httpapi.Request{Event: events.APIGatewayV2HTTPRequest{Body: body, Headers: map[string]string{"content-type": "application/json"}}}
}

// FuzzDecodeCheck: any body is either a 400 naming at least one field or a
// query whose every field has the normalised shape the comparison relies
// on; nothing panics.
func FuzzDecodeCheck(f *testing.F) {
	for _, s := range []string{
		`{"code":"P123456789012","name":"홍길동","phone":"010-1234-5678","zip":"04524"}`,
		`{"code":"P123456789012","name":"hong  gil-dong","phone":"01012345678","zip":"123-456"}`,
		`{"code":"P123456789012","name":"홍길동","phone":"010 1234 5678","zip":" 04524 "}`,
		`{"code":"p123456789012","name":"","phone":"","zip":""}`,
		`{"code":null,"name":1,"phone":[],"zip":{}}`,
		`{"code":"P123456789012","extra":true}`,
		`{}`, `[]`, `null`, ``, `{"code":"P123456789012"} {}`, "\xff\xfe",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		q, err := DecodeCheck(request(body))
		if err != nil {
			e := apperr.As(err)
			if e.Code != apperr.Invalid || len(e.Fields) == 0 {
				t.Fatalf("error %v is not a 400 naming a field", err)
			}
			for field, msg := range e.Fields {
				if msg == "" || field == "" {
					t.Fatalf("empty field or message: %v", e.Fields)
				}
			}
			return
		}
		if !codes.Format(q.Code) {
			t.Fatalf("code %q", q.Code)
		}
		if q.Name == "" || !utf8.ValidString(q.Name) || strings.ContainsAny(q.Name, " -'.") || strings.ToUpper(q.Name) != q.Name {
			t.Fatalf("name %q", q.Name)
		}
		if n := len(q.Phone); n < 10 || n > 11 || strings.Trim(q.Phone, "0123456789") != "" {
			t.Fatalf("phone %q", q.Phone)
		}
		if n := len(q.Zip); (n != 5 && n != 6) || strings.Trim(q.Zip, "0123456789") != "" {
			t.Fatalf("zip %q", q.Zip)
		}
	})
}
