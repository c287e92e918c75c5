package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pccc/pccc/infra/authority"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/clearanceapi"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/lifecycle"
	"github.com/pccc/pccc/shared/notify"
	"github.com/pccc/pccc/shared/stats"
)

// Holder notices over the whole system, on each stack: observed where the
// SMS sender delivers locally (the runner's outbox behind /_local/sms).

// issueWithPhone issues a code for a minted holder registered with phone
// (digits), so that the holder's SMS are told apart from other tests'.
func (s *system) issueWithPhone(t *testing.T, hk, phone string) (token, code string) {
	t.Helper()
	token = mint(t, hk)
	body := strings.Replace(issueBody(), `"phone":"010-7777-8888"`, `"phone":"`+phone+`"`, 1)
	v := s.succeeded(t, token, accepted(t, s.call(t, "POST", "/v1/codes", token, "", body)))
	code, _ = v["code"].(string)
	if !codes.Valid(code) {
		t.Fatalf("issued %v", v)
	}
	return token, code
}

// smsWith counts the SMS sent to phone whose text contains part.
func (s *system) smsWith(phone, part string) int {
	n := 0
	for _, m := range s.run.Outbox().List(phone) {
		if strings.Contains(m.Text, part) {
			n++
		}
	}
	return n
}

// waitSMS waits until want SMS containing part reached phone, then a
// while longer to see that no more come; it returns how many came.
func (s *system) waitSMS(t *testing.T, phone, part string, want int) int {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.smsWith(phone, part) < want && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond) // duplicates, if any, would come now
	return s.smsWith(phone, part)
}

// notifyText is the Korean notice of k (holders choose Korean unless they
// say otherwise), naming the runner's page: PUBLIC_SITE_URL defaults to
// the runner's URL locally.
func (s *system) notifyText(t *testing.T, k holder.Kind) string {
	t.Helper()
	text, ok := notify.ChangeText(k, s.url)
	if !ok {
		t.Fatalf("no text for %s", k)
	}
	return text.Ko
}

// TestNotifyGuessing is the acceptance run: many wrong names and phones
// against one code through the public check are throttled, never match,
// the holder gets exactly one SMS about it, and the authority's view
// lists the code.
func TestNotifyGuessing(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		const perCode, notifyAt, guesses = 6, 3, 40
		s := start(t, kind, sessionEnv(map[string]string{
			"CLEARANCE_CHECKS_PER_CODE_PER_HOUR": strconv.Itoa(perCode),
			"CLEARANCE_MISMATCH_NOTIFY_AT":       strconv.Itoa(notifyAt),
		}))
		phone := "01055550001"
		tok, code := s.issueWithPhone(t, "notify-guessed-"+string(kind), phone)
		keyA, _ := newKey(t, s, "Guesser A", 1000)
		keyB, _ := newKey(t, s, "Guesser B", 1000)

		names := []string{"KIM MINJUN", "LEE SEOYEON", "PARK JIHO", "CHOI YUNA", "홍길동", "김철수", "이영희", "박민수"}
		taken, matched, limited := 0, 0, 0
		ids := map[string]bool{}
		for i := range guesses {
			key := keyA
			if i%2 == 1 {
				key = keyB
			}
			r := s.check(t, "ApiKey "+key, checkBody(code, names[i%len(names)], fmt.Sprintf("0109876%04d", i), "04524"))
			switch {
			case r.status == 200 && r.body["result"] == "mismatch":
				taken++
				ids[r.body["checkId"].(string)] = true
			case r.status == 200:
				taken++
				matched++
			case r.status == 429 && r.errCode == "RATE_LIMITED" && r.header.Get("Retry-After") != "":
				limited++
			default:
				t.Errorf("guess %d: %d %s", i, r.status, r.raw)
			}
		}
		// Throttled after the per-code limit (an hour's window, touched
		// at most twice by a run this short), and not one guess matched:
		// no better than chance, which for wrong guesses is nothing.
		if matched != 0 || taken < notifyAt || taken > 2*perCode || limited < guesses-2*perCode {
			t.Fatalf("%d guesses: %d answered, %d matched, %d refused (per-code limit %d)", guesses, taken, matched, limited, perCode)
		}

		// The holder hears of it once, whatever the number of mismatches.
		warn := notify.MismatchText(notify.Last4(code), s.url).Ko
		if n := s.waitSMS(t, phone, warn, 1); n != 1 {
			t.Fatalf("the holder got %d repeated-mismatch SMS, want 1: %v", n, s.run.Outbox().List(phone))
		}
		for _, m := range s.run.Outbox().List(phone) {
			if strings.Contains(m.Text, code) || strings.Contains(m.Text, "Guesser") || strings.Contains(m.Text, markerKorean) {
				t.Errorf("an SMS tells more than the holder knows: %q", m.Text)
			}
		}

		// The authority's view lists the code with the day's count.
		var out, errOut bytes.Buffer
		st := dynamo.NewCheckStore(clients(t, s).DynamoDB, localTable)
		if err := authority.Run(context.Background(), st, []string{"mismatches", "-day", stats.Day(time.Now())}, time.Now, &out, &errOut); err != nil {
			t.Fatalf("pccc-authority: %v (%s)", err, errOut.String())
		}
		line := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, code) {
				line = l
			}
		}
		if f := strings.Fields(line); len(f) != 5 || f[1] != strconv.Itoa(taken) || f[4] != "yes" {
			t.Fatalf("authority view:\n%s", out.String())
		}
		if strings.Contains(out.String(), "notify-guessed") || strings.Contains(out.String(), phone) {
			t.Fatalf("the authority view names the holder:\n%s", out.String())
		}

		// No phone, name or guess in any log line of the run.
		for _, secret := range append(names, phone, "010-5555-0001", "0109876", markerKorean) {
			if strings.Contains(s.logs.String(), secret) {
				t.Errorf("the logs hold %q", secret)
			}
		}

		// The holder sees every check made against the code: its id, the
		// time, the result and whose key made it; nothing the guesser sent.
		r := s.call(t, "GET", "/v1/clearance/checks", tok, "", "")
		var list struct {
			Checks []clearanceapi.HolderCheck `json:"checks"`
		}
		if err := json.Unmarshal([]byte(r.raw), &list); r.status != 200 || err != nil {
			t.Fatalf("the holder's checks: %d %s", r.status, r.raw)
		}
		if len(list.Checks) != taken {
			t.Fatalf("the holder sees %d checks, %d were answered: %s", len(list.Checks), taken, r.raw)
		}
		for i, c := range list.Checks {
			if !ids[c.CheckID] || c.Code != code || c.Result != "mismatch" || (c.CheckedBy != "Guesser A" && c.CheckedBy != "Guesser B") ||
				(i > 0 && c.CheckedAt.After(list.Checks[i-1].CheckedAt)) {
				t.Errorf("check %d: %+v", i, c)
			}
		}
		for _, secret := range append(names, "0109876") {
			if strings.Contains(r.raw, secret) {
				t.Errorf("the holder's list holds what the guesser sent (%q)", secret)
			}
		}
		// Another holder sees none of them; no session, no list.
		if r := s.call(t, "GET", "/v1/clearance/checks", mint(t, "notify-other-"+string(kind)), "", ""); r.status != 200 || r.raw != `{"checks":[]}` {
			t.Errorf("another holder's list: %d %s", r.status, r.raw)
		}
		if r := s.call(t, "GET", "/v1/clearance/checks", "", "", ""); r.status != 401 || r.errCode != "UNAUTHENTICATED" {
			t.Errorf("without a session: %d %s", r.status, r.raw)
		}
	})
}

// TestNotifyCodeChange: every change sends the holder one SMS, even when
// the queue delivers its command again after it was carried out.
func TestNotifyCodeChange(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(nil))
		ctx := context.Background()
		phone := "01055550002"
		hk := "notify-change-" + string(kind)
		tok, _ := s.issueWithPhone(t, hk, phone)
		if n := s.waitSMS(t, phone, s.notifyText(t, holder.Issue), 1); n != 1 {
			t.Fatalf("%d issue notices", n)
		}

		id := accepted(t, s.call(t, "POST", "/v1/codes/me/suspend", tok, "", ""))
		s.succeeded(t, tok, id)
		// The same command delivered twice more, as SQS may: the rules
		// refuse a second suspension, the request says succeeded, and
		// the notice is queued again, and sent once.
		queue, _ := commandQueue(t, s)
		b, _ := json.Marshal(lifecycle.Message{V: lifecycle.MessageVersion, RequestID: id, Kind: holder.Suspend, Actor: holder.ByHolder, HolderKey: hk, QueuedAt: time.Now()})
		for range 2 {
			if _, err := clients(t, s).SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(string(b))}); err != nil {
				t.Fatal(err)
			}
		}
		if n := s.waitSMS(t, phone, s.notifyText(t, holder.Suspend), 1); n != 1 {
			t.Fatalf("%d suspension notices for one suspension: %v", n, s.run.Outbox().List(phone))
		}
		if v := s.finished(t, tok, id); v["status"] != "succeeded" {
			t.Fatalf("after the duplicates: %v", v)
		}

		// A change of phone: the phone registered before hears of it.
		id = accepted(t, s.call(t, "PATCH", "/v1/codes/me", tok, "", `{"phone":"010-5555-0003"}`))
		s.succeeded(t, tok, id)
		if n := s.waitSMS(t, phone, s.notifyText(t, holder.Update), 1); n != 1 {
			t.Fatalf("%d update notices to the old phone", n)
		}
		id = accepted(t, s.call(t, "POST", "/v1/codes/me/resume", tok, "", ""))
		s.succeeded(t, tok, id)
		if n := s.waitSMS(t, "01055550003", s.notifyText(t, holder.Resume), 1); n != 1 {
			t.Fatalf("%d resume notices to the new phone", n)
		}
	})
}

// TestNotifyDailyExpiry: the daily job's commands are changes like any
// other, so the holder whose code it expires is told, once.
func TestNotifyDailyExpiry(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(nil))
		ctx := context.Background()
		phone := "01055550004"
		hk := "notify-expiry-" + string(kind)
		s.issueWithPhone(t, hk, phone)
		// Move the code's expiry two days back, index entry and all.
		past := time.Now().UTC().Add(-50 * time.Hour)
		at := &types.AttributeValueMemberS{Value: past.Format(time.RFC3339Nano)}
		if _, err := clients(t, s).DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:        aws.String(localTable),
			Key:              map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "HOLDER#" + hk}, "SK": &types.AttributeValueMemberS{Value: "HOLDER"}},
			UpdateExpression: aws.String("SET expiresAt = :at, due = :at, GSI1PK = :day"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":at": at, ":day": &types.AttributeValueMemberS{Value: "EXPIRY#" + stats.Day(past)},
			},
		}); err != nil {
			t.Fatal(err)
		}
		for run := range 2 {
			r := s.do(t, http.MethodPost, "/_local/schedules/ExpiryFunctionDaily", "", "")
			res, _ := r.body["result"].(map[string]any)
			if r.status != 200 || res["queued"] != float64(1-run) {
				t.Fatalf("expiry run %d: %d %s", run, r.status, r.raw)
			}
			if n := s.waitSMS(t, phone, s.notifyText(t, holder.Expire), 1); n != 1 {
				t.Fatalf("after run %d: %d expiry notices: %v", run, n, s.run.Outbox().List(phone))
			}
		}
	})
}

// TestNotifyDeclarations: the holder is told of every declaration filed in
// their name, once each: asked to confirm or deny one that waits for them,
// told what to do if one accepted at once was not theirs. The texts carry
// nothing of the declaration.
func TestNotifyDeclarations(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(map[string]string{"CLEARANCE_CHECKS_PER_CODE_PER_HOUR": "1000"}))
		key, _ := newKey(t, s, "ACME Express", 1000)
		const phone = "01055512345"
		tok, code := s.issueWithPhone(t, "notify-decl-"+string(kind), phone)
		file := func(want string) string {
			body := strings.Replace(declBody(code, "마커테스트"), `"phone":"010-7777-8888"`, `"phone":"`+phone+`"`, 1)
			r := s.file(t, key, body)
			id, _ := r.body["id"].(string)
			if r.status != http.StatusCreated || r.body["status"] != want {
				t.Fatalf("file: %d %s, want 201 %s", r.status, r.raw, want)
			}
			return id
		}
		file("accepted")
		if n := s.waitSMS(t, phone, notify.DeclarationAcceptedText(s.url).Ko, 1); n != 1 {
			t.Fatalf("%d notices of a declaration accepted at once, want 1", n)
		}
		if r := s.call(t, http.MethodPut, "/v1/codes/me/confirmation", tok, "", `{"required":true}`); r.status != 200 {
			t.Fatalf("turn on: %d %s", r.status, r.raw)
		}
		file("pending")
		if n := s.waitSMS(t, phone, notify.DeclarationText(s.url).Ko, 1); n != 1 {
			t.Fatalf("%d notices of a pending declaration, want 1", n)
		}
		for _, m := range s.run.Outbox().List(phone) {
			for _, leak := range []string{"CJ-1234567890", "49.9", "running shoes", "ACME", "마커테스트", code} {
				if strings.Contains(m.Text, leak) {
					t.Errorf("a notice carries %q: %s", leak, m.Text)
				}
			}
		}
	})
}
