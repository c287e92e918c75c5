package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/infra/keyadmin"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/stats"
)

// The clearance check over HTTP, on each stack: keys made with the
// operator's command, holders with live codes made through the real issue
// path, checks sent the way a broker sends them.

const checkPath = "/v1/clearance/checks"

var keyLine = regexp.MustCompile(`(?m)^key id: (\S+)$[\s\S]*^key:\s+(\S+)$`)

// newKey makes a key with the operator's command against the stack's table
// and returns the key and its id.
func newKey(t *testing.T, s *system, owner string, rate int) (key, id string) {
	t.Helper()
	var out, errOut bytes.Buffer
	st := dynamo.NewAPIKeyStore(clients(t, s).DynamoDB, localTable)
	if err := keyadmin.Run(context.Background(), st, []string{"create", "-owner", owner, "-rate", strconv.Itoa(rate)}, time.Now, &out, &errOut); err != nil {
		t.Fatalf("create key: %v (%s)", err, errOut.String())
	}
	m := keyLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("create printed %q", out.String())
	}
	return m[2], m[1]
}

func revokeKey(t *testing.T, s *system, id string) {
	t.Helper()
	var out, errOut bytes.Buffer
	st := dynamo.NewAPIKeyStore(clients(t, s).DynamoDB, localTable)
	if err := keyadmin.Run(context.Background(), st, []string{"revoke", id}, time.Now, &out, &errOut); err != nil {
		t.Fatalf("revoke key: %v", err)
	}
}

// check sends a clearance check with an Authorization value ("" for none).
func (s *system) check(t *testing.T, auth string, body string) reply {
	t.Helper()
	h := map[string]string{"Content-Type": "application/json"}
	if auth != "" {
		h["Authorization"] = auth
	}
	return s.send(t, http.MethodPost, checkPath, h, body)
}

func checkBody(code, name, phone, zip string) string {
	b, _ := json.Marshal(map[string]string{"code": code, "name": name, "phone": phone, "zip": zip})
	return string(b)
}

// liveHolder issues a code with the marker details (issueBody: Korean name
// 마커테스트, English MARKERPERSON QZXW, phone 010-7777-8888, zips 04524 and
// 06236) for a minted holder and returns its token and code.
func (s *system) liveHolder(t *testing.T, hk string) (token, code string) {
	t.Helper()
	token = mint(t, hk)
	v := s.succeeded(t, token, accepted(t, s.call(t, "POST", "/v1/codes", token, "", issueBody())))
	code, _ = v["code"].(string)
	if !codes.Valid(code) {
		t.Fatalf("issued %v", v)
	}
	return token, code
}

// withoutCheckID is a 200 check answer with its check id blanked, after
// checking the id's shape: what must be byte-identical across mismatches.
func withoutCheckID(t *testing.T, r reply) string {
	t.Helper()
	id, _ := r.body["checkId"].(string)
	if len(id) != 22 {
		t.Fatalf("check answered %d %s", r.status, r.raw)
	}
	return strings.Replace(r.raw, id, "-", 1)
}

func TestClearanceCheck(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(map[string]string{"CLEARANCE_CHECKS_PER_CODE_PER_HOUR": "1000"}))
		key, keyID := newKey(t, s, "ACME Customs", 1000)
		auth := "ApiKey " + key
		hk := "clearance-holder-" + string(kind)
		_, code := s.liveHolder(t, hk)

		// Suspended: a second holder suspends their code.
		susTok, suspended := s.liveHolder(t, "clearance-suspended-"+string(kind))
		s.succeeded(t, susTok, accepted(t, s.call(t, "POST", "/v1/codes/me/suspend", susTok, "", "")))
		// Retired: a third reissues; the old code is retired, the new live.
		reTok, retired := s.liveHolder(t, "clearance-reissued-"+string(kind))
		v := s.succeeded(t, reTok, accepted(t, s.call(t, "POST", "/v1/codes/me/reissue", reTok, "", `{"reason":"leak_concern"}`)))
		reissued, _ := v["code"].(string)
		// Cancelled: a fourth cancels.
		caTok, cancelled := s.liveHolder(t, "clearance-cancelled-"+string(kind))
		s.succeeded(t, caTok, accepted(t, s.call(t, "POST", "/v1/codes/me/cancel", caTok, "", "")))

		unknown := "P000000000000" // Damm-valid, never issued here
		if !codes.Valid(unknown) || unknown == code {
			t.Fatal("the unknown code must be well formed and not issued")
		}
		badCheck := code[:12] + string('0'+(code[12]-'0'+1)%10) // plausible shape, wrong check digit

		matches := []struct{ what, body string }{
			{"Korean name", checkBody(code, "마커테스트", "01077778888", "04524")},
			{"English name, other case and spacing, phone with dashes", checkBody(code, "  markerperson   Qzxw ", "010-7777-8888", "06236")},
			{"English name without its space", checkBody(code, "MARKERPERSONQZXW", "010 7777 8888", "04524")},
			{"Korean name spaced", checkBody(code, "마커 테스트", "01077778888", " 06236 ")},
			{"the reissued code", checkBody(reissued, "마커테스트", "01077778888", "04524")},
		}
		checks := 0
		for _, m := range matches {
			r := s.check(t, auth, m.body)
			checks++
			if r.status != 200 || r.body["result"] != "match" {
				t.Errorf("%s: %d %s, want a match", m.what, r.status, r.raw)
			}
			withoutCheckID(t, r)
		}

		mismatches := []struct{ what, body string }{
			{"wrong name", checkBody(code, "WRONGMARKER QZXW", "01077778888", "04524")},
			{"wrong Korean name", checkBody(code, "마커테스트다", "01077778888", "04524")},
			{"wrong phone", checkBody(code, "마커테스트", "01077778889", "04524")},
			{"wrong zip", checkBody(code, "마커테스트", "01077778888", "04525")},
			{"old 6-digit zip", checkBody(code, "마커테스트", "01077778888", "045-245")},
			{"unknown code", checkBody(unknown, "마커테스트", "01077778888", "04524")},
			{"wrong check digit", checkBody(badCheck, "마커테스트", "01077778888", "04524")},
			{"suspended code", checkBody(suspended, "마커테스트", "01077778888", "04524")},
			{"retired (reissued) code", checkBody(retired, "마커테스트", "01077778888", "04524")},
			{"cancelled code", checkBody(cancelled, "마커테스트", "01077778888", "04524")},
			{"everything wrong", checkBody(unknown, "NOBODY", "01099999999", "99999")},
		}
		var first reply
		var canonical string
		mismatchesOnCode := 0
		for i, m := range mismatches {
			r := s.check(t, auth, m.body)
			checks++
			if strings.Contains(m.body, `"`+code+`"`) {
				mismatchesOnCode++
			}
			if r.status != 200 || r.body["result"] != "mismatch" {
				t.Errorf("%s: %d %s, want a mismatch", m.what, r.status, r.raw)
				continue
			}
			got := withoutCheckID(t, r)
			if i == 0 {
				first, canonical = r, got
				continue
			}
			if got != canonical {
				t.Errorf("%s: body %q differs from %q", m.what, got, canonical)
			}
			for _, h := range []string{"Content-Type", "Cache-Control", "Retry-After"} {
				if r.header.Get(h) != first.header.Get(h) {
					t.Errorf("%s: header %s %q, first mismatch %q", m.what, h, r.header.Get(h), first.header.Get(h))
				}
			}
		}
		if canonical != `{"result":"mismatch","checkId":"-"}` {
			t.Errorf("mismatch body %q", canonical)
		}

		t.Run("bad input is a 400 naming the field", func(t *testing.T) {
			for _, tc := range []struct{ body, field string }{
				{`{"name":"마커테스트","phone":"01077778888","zip":"04524"}`, "code"},
				{checkBody("P123", "마커테스트", "01077778888", "04524"), "code"},
				{checkBody(strings.ToLower(code), "마커테스트", "01077778888", "04524"), "code"},
				{checkBody(code+"0", "마커테스트", "01077778888", "04524"), "code"},
				{checkBody(code, "R2D2", "01077778888", "04524"), "name"},
				{checkBody(code, "마커테스트", "12345", "04524"), "phone"},
				{checkBody(code, "마커테스트", "01077778888", "0452"), "zip"},
				{checkBody(code, "마커테스트", "01077778888", "04-524"), "zip"},
				{`{"code":"` + code + `","name":"마커테스트","phone":"01077778888"}`, "zip"},
				{`{"code":"` + code + `","name":"마커테스트","phone":"01077778888","zip":"04524","extra":1}`, "extra"},
				{`{"code":1,"name":"마커테스트","phone":"01077778888","zip":"04524"}`, "code"},
				{`[]`, "body"},
				{`{"code":"` + strings.Repeat("P", 70<<10) + `"}`, "body"},
			} {
				r := s.check(t, auth, tc.body)
				if r.status != 400 || r.errCode != "INVALID_ARGUMENT" || r.fields[tc.field] == nil {
					t.Errorf("%.80s: %d %.300s, want 400 on %s", tc.body, r.status, r.raw, tc.field)
				}
			}
		})

		t.Run("no key, a garbage key, a wrong secret, a bearer token: 401", func(t *testing.T) {
			id, _, _ := strings.Cut(strings.TrimPrefix(key, "pccc."), ".")
			wrongSecret := "pccc." + id + "." + strings.Repeat("A", 43)
			unknownID := "pccc.0123456789abcdef." + key[len(key)-43:]
			body := matches[0].body
			var bodies []string
			for _, a := range []string{"", "ApiKey", "ApiKey nope", "ApiKey " + wrongSecret, "ApiKey " + unknownID,
				"Bearer " + mint(t, hk), key, "Basic " + key} {
				r := s.check(t, a, body)
				if r.status != 401 || r.errCode != "UNAUTHENTICATED" {
					t.Errorf("Authorization %.30q: %d %s", a, r.status, r.raw)
				}
				bodies = append(bodies, r.body["error"].(map[string]any)["message"].(string))
			}
			for _, b := range bodies[1:] {
				if b != bodies[0] {
					t.Errorf("401 messages differ: %q and %q", b, bodies[0])
				}
			}
		})

		t.Run("each check is recorded, mismatches counted, no personal data", func(t *testing.T) {
			c := clients(t, s)
			var recorded, withHolder int
			for _, item := range tableItems(t, s) {
				pk := item["PK"].(*types.AttributeValueMemberS).Value
				if !strings.HasPrefix(pk, "CHECK#") {
					continue
				}
				recorded++
				for _, a := range []string{"checkId", "keyId", "code", "result", "at", "ttl"} {
					if _, ok := item[a]; !ok {
						t.Errorf("check %s has no %s", pk, a)
					}
				}
				if k, _ := item["keyId"].(*types.AttributeValueMemberS); k == nil || k.Value != keyID {
					t.Errorf("check %s: keyId %v", pk, item["keyId"])
				}
				if h, ok := item["holderKey"].(*types.AttributeValueMemberS); ok {
					withHolder++
					if g, _ := item["GSI1PK"].(*types.AttributeValueMemberS); g == nil || g.Value != "CHECKS#"+h.Value {
						t.Errorf("check %s is not in its holder's index", pk)
					}
				}
			}
			// Every 200 is recorded; the unknown codes have no holder.
			if recorded != checks || withHolder != checks-3 {
				t.Errorf("%d checks recorded (%d with a holder), %d answered", recorded, withHolder, checks)
			}
			// The holder's checks, newest first, from the index.
			mine, err := dynamo.NewCheckStore(c.DynamoDB, localTable).ChecksOf(context.Background(), hk, 100)
			if err != nil {
				t.Fatal(err)
			}
			// 4 matches and 5 mismatches on the holder's code.
			if len(mine) != 4+mismatchesOnCode {
				t.Errorf("the holder has %d checks, want %d", len(mine), 4+mismatchesOnCode)
			}
			for i, ch := range mine {
				if ch.Code != code || ch.KeyID != keyID || ch.HolderKey != hk || len(ch.ID) != 22 || (i > 0 && ch.At.After(mine[i-1].At)) {
					t.Errorf("check %d of the holder: %+v", i, ch)
				}
			}
			out, err := c.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
				TableName: aws.String(localTable), ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{
					"PK": &types.AttributeValueMemberS{Value: dynamo.MismatchKey(code, stats.Day(time.Now()))},
					"SK": &types.AttributeValueMemberS{Value: "COUNT"},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := out.Item["count"].(*types.AttributeValueMemberN); n == nil || n.Value != strconv.Itoa(mismatchesOnCode) {
				t.Errorf("mismatch counter of the code: %v, want %d", out.Item["count"], mismatchesOnCode)
			}

			dump := dumpTables(t, s.stack)
			logs := s.logs.String()
			if !strings.Contains(logs, `"msg":"clearance check"`) {
				t.Fatal("no clearance check in the logs")
			}
			for _, m := range []string{markerKorean, "마커 테스트", markerEnglish, "MARKERPERSON", "markerperson", "WRONGMARKER",
				codeMarkerPhone, "010-7777-8888", "7777-8888", "01077778889", "01099999999", key, key[len(key)-43:]} {
				if i := strings.Index(dump, m); i >= 0 {
					t.Errorf("table dump holds %q: …%s…", m, around(dump, i))
				}
				if i := strings.Index(logs, m); i >= 0 {
					t.Errorf("logs hold %q: …%s…", m, around(logs, i))
				}
			}
			// The code stays out of the logs too, as everywhere else here.
			if strings.Contains(logs, code) {
				t.Errorf("logs hold the code")
			}
		})
	})
}

func TestClearanceKeyLimits(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(map[string]string{"CLEARANCE_CHECKS_PER_CODE_PER_HOUR": "1000"}))
		_, code := s.liveHolder(t, "clearance-limits-"+string(kind))
		body := checkBody(code, "마커테스트", "01077778888", "04524")

		t.Run("over its rate: 429 with Retry-After", func(t *testing.T) {
			const rate = 3
			key, _ := newKey(t, s, "Slow Shop", rate)
			ok, limited := 0, 0
			// A sliding minute, refused calls counted too: a new key takes
			// exactly its rate, and the wait, true, grows while it is
			// hammered (at most two minutes: the slot after next is empty).
			for range 2*rate + 2 {
				r := s.check(t, "ApiKey "+key, body)
				switch {
				case r.status == 200 && r.body["result"] == "match":
					ok++
				case r.status == 429 && r.errCode == "RATE_LIMITED" && limitOf(r) == "key-rate":
					limited++
					secs, err := strconv.Atoi(r.header.Get("Retry-After"))
					if err != nil || secs < 1 || secs > 120 {
						t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
					}
				default:
					t.Errorf("check: %d %s", r.status, r.raw)
				}
			}
			if ok != rate || limited != rate+2 {
				t.Errorf("%d taken, %d refused (rate %d a minute)", ok, limited, rate)
			}
		})

		t.Run("revoked: 401", func(t *testing.T) {
			key, id := newKey(t, s, "Former Broker", 100)
			if r := s.check(t, "ApiKey "+key, body); r.status != 200 || r.body["result"] != "match" {
				t.Fatalf("before revocation: %d %s", r.status, r.raw)
			}
			revokeKey(t, s, id)
			if r := s.check(t, "ApiKey "+key, body); r.status != 401 || r.errCode != "UNAUTHENTICATED" {
				t.Fatalf("revoked key: %d %s", r.status, r.raw)
			}
		})
	})
}

// A run guessing names and phones for one code: the per-code limit stops
// it after a few tries whatever keys it spreads over, and no wrong guess
// matches.
func TestClearanceGuessing(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		const perCode = 5
		s := start(t, kind, sessionEnv(map[string]string{"CLEARANCE_CHECKS_PER_CODE_PER_HOUR": strconv.Itoa(perCode)}))
		_, code := s.liveHolder(t, "clearance-guessed-"+string(kind))
		_, other := s.liveHolder(t, "clearance-bystander-"+string(kind))
		keyA, _ := newKey(t, s, "Guesser A", 1000)
		keyB, _ := newKey(t, s, "Guesser B", 1000)

		names := []string{"KIM MINJUN", "LEE SEOYEON", "PARK JIHO", "CHOI YUNA", "홍길동", "김철수", "이영희", "박민수"}
		taken, mismatched, matched, limited := 0, 0, 0, 0
		for i := range 40 {
			key := keyA
			if i%2 == 1 {
				key = keyB
			}
			phone := fmt.Sprintf("0101234%04d", i)
			r := s.check(t, "ApiKey "+key, checkBody(code, names[i%len(names)], phone, "04524"))
			switch {
			case r.status == 200:
				taken++
				if r.body["result"] == "match" {
					matched++
				} else {
					mismatched++
				}
			case r.status == 429 && r.errCode == "RATE_LIMITED" && r.header.Get("Retry-After") != "":
				limited++
			default:
				t.Errorf("guess %d: %d %s", i, r.status, r.raw)
			}
		}
		// An hour's window, touched at most twice by a run this short.
		if matched != 0 || taken > 2*perCode || limited < 40-2*perCode {
			t.Errorf("40 guesses: %d answered (%d matched), %d refused; per-code limit %d", taken, matched, limited, perCode)
		}
		// Another code is not held back by the run.
		if r := s.check(t, "ApiKey "+keyA, checkBody(other, "마커테스트", "01077778888", "04524")); r.status != 200 || r.body["result"] != "match" {
			t.Errorf("another code during the run: %d %s", r.status, r.raw)
		}
	})
}

// The operator's command as an operator runs it: the SDK's own
// environment variables point it at the stack, and it makes, lists and
// revokes keys in the table the system reads.
func TestClearanceKeyCommand(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(nil))
		for _, kv := range s.stack.Env() {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		getenv := func(k string) string {
			if k == "TABLE_NAME" {
				return localTable
			}
			return os.Getenv(k)
		}
		ctx := context.Background()
		var out, errOut bytes.Buffer
		if err := keyadmin.Main(ctx, []string{"create", "-owner", "ACME Customs", "-rate", "10"}, getenv, &out, &errOut); err != nil {
			t.Fatalf("create: %v %s", err, errOut.String())
		}
		m := keyLine.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("create printed %q", out.String())
		}
		id, key := m[1], m[2]
		out.Reset()
		if err := keyadmin.Main(ctx, []string{"list"}, getenv, &out, &errOut); err != nil {
			t.Fatalf("list: %v", err)
		}
		if !strings.Contains(out.String(), id) || !strings.Contains(out.String(), "ACME Customs") || !strings.Contains(out.String(), "active") ||
			strings.Contains(out.String(), key[len(key)-43:]) {
			t.Fatalf("list printed %q", out.String())
		}
		if err := keyadmin.Main(ctx, []string{"revoke", id}, getenv, &out, &errOut); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		out.Reset()
		_ = keyadmin.Main(ctx, []string{"list"}, getenv, &out, &errOut)
		if !strings.Contains(out.String(), "revoked") {
			t.Fatalf("list after revoke printed %q", out.String())
		}
		if err := keyadmin.Main(ctx, []string{"revoke", "0123456789abcdef"}, getenv, &out, &errOut); err == nil {
			t.Fatal("revoking an unknown key succeeded")
		}
		// An id already taken is refused by the table's condition.
		st := dynamo.NewAPIKeyStore(clients(t, s).DynamoDB, localTable)
		if err := st.Create(ctx, apikey.Record{ID: id, Owner: "Impostor", RatePerMinute: 1, Hash: "x", CreatedAt: time.Now()}); !errors.Is(err, apikey.ErrExists) {
			t.Fatalf("a second key with id %s: %v", id, err)
		}
		if rec, err := st.Key(ctx, id); err != nil || rec.Owner != "ACME Customs" || !rec.Revoked || rec.RevokedAt.IsZero() {
			t.Fatalf("the key after all that: %+v %v", rec, err)
		}
		// The stored item holds the hash, never the secret.
		if dump := dumpTables(t, s.stack); strings.Contains(dump, key[len(key)-43:]) || !strings.Contains(dump, "APIKEY#"+id) {
			t.Fatal("the key item is missing or holds the secret")
		}
	})
}
