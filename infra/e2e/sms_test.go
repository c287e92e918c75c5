package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
	"github.com/pccc/pccc/shared/dynamo"
)

var codeInText = regexp.MustCompile(`\b[0-9]{6}\b`)

// startVerification runs the real-name check for r and returns the id.
func (s *system) startVerification(t *testing.T, r sim.Resident) string {
	t.Helper()
	rep := s.postJSON(t, "/v1/verifications", map[string]string{"name": r.Name, "rrn": r.RRN})
	if rep.status != http.StatusCreated {
		t.Fatalf("real-name check: %d %s", rep.status, rep.raw)
	}
	return rep.body["verificationId"].(string)
}

func smsBody(r sim.Resident) map[string]string {
	return map[string]string{"carrier": r.Carrier, "phone": r.Phone, "birthDate": r.BirthDate, "sex": r.Sex}
}

// waitForCode polls the local SMS outbox until a message newer than the
// count already seen arrives, and returns the code in it.
func (s *system) waitForCode(t *testing.T, phone string, seen int) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		rep := s.do(t, http.MethodGet, "/_local/sms?phone="+phone, "", "")
		var out struct {
			Messages []struct{ Text string } `json:"messages"`
		}
		_ = json.Unmarshal([]byte(rep.raw), &out)
		if len(out.Messages) > seen {
			code := codeInText.FindString(out.Messages[len(out.Messages)-1].Text)
			if code == "" {
				t.Fatalf("no code in the SMS")
			}
			return code
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no SMS arrived within 15s")
	return ""
}

func TestSMSVerification(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, map[string]string{"OTP_RESEND_COOLDOWN": "1s"})
		people := sim.BuiltIn()
		// Secrets seen during the run, searched for in the logs at the end.
		var secrets []string

		t.Run("the whole flow yields a session token, and the code works once", func(t *testing.T) {
			r := people[0]
			id := s.startVerification(t, r)
			rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r))
			if rep.status != http.StatusAccepted || rep.body["sentTo"] != "010-****-0001" || rep.body["resendAfter"] == nil {
				t.Fatalf("sms: %d %s", rep.status, rep.raw)
			}
			code := s.waitForCode(t, r.Phone, 0)
			rep = s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": code})
			token, _ := rep.body["sessionToken"].(string)
			secrets = append(secrets, token, `"`+code+`"`)
			if rep.status != http.StatusOK || strings.Count(token, ".") != 2 {
				t.Fatalf("confirm: %d %s", rep.status, rep.raw)
			}
			again := s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": code})
			if again.status < 400 || again.body["sessionToken"] != nil {
				t.Fatalf("a used code worked again: %d %s", again.status, again.raw)
			}
		})

		t.Run("wrong phone details are refused without saying which", func(t *testing.T) {
			r := people[1]
			id := s.startVerification(t, r)
			var bodies []string
			for _, change := range []func(map[string]string){
				func(b map[string]string) { b["phone"] = "01099998888" },
				func(b map[string]string) { b["carrier"] = "LGU" },
				func(b map[string]string) { b["birthDate"] = "19850316" },
			} {
				b := smsBody(r)
				change(b)
				rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", b)
				if rep.status != http.StatusUnprocessableEntity {
					t.Fatalf("status %d: %s", rep.status, rep.raw)
				}
				var m map[string]any
				_ = json.Unmarshal([]byte(rep.raw), &m)
				delete(m, "requestId")
				out, _ := json.Marshal(m)
				bodies = append(bodies, string(out))
			}
			if bodies[0] != bodies[1] || bodies[1] != bodies[2] {
				t.Fatalf("mismatch answers differ: %v", bodies)
			}
		})

		t.Run("wrong codes lock the verification and a resend does not reset them", func(t *testing.T) {
			r := people[2]
			id := s.startVerification(t, r)
			if rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
				t.Fatalf("sms: %d %s", rep.status, rep.raw)
			}
			code := s.waitForCode(t, r.Phone, 0)
			wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)
			for i := 0; i < 3; i++ {
				rep := s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": wrong})
				if rep.status != http.StatusUnprocessableEntity || rep.body["error"].(map[string]any)["attemptsLeft"] != float64(4-i) {
					t.Fatalf("attempt %d: %d %s", i, rep.status, rep.raw)
				}
			}
			time.Sleep(1100 * time.Millisecond) // the resend cooldown
			if rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
				t.Fatalf("resend: %d %s", rep.status, rep.raw)
			}
			code = s.waitForCode(t, r.Phone, 1)
			wrong = fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)
			rep := s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": wrong})
			if rep.status != http.StatusUnprocessableEntity || rep.body["error"].(map[string]any)["attemptsLeft"] != float64(1) {
				t.Fatalf("after resend the budget was reset: %d %s", rep.status, rep.raw)
			}
			rep = s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": wrong})
			if rep.status != http.StatusTooManyRequests || rep.errCode != "TOO_MANY_ATTEMPTS" || rep.header.Get("Retry-After") == "" {
				t.Fatalf("fifth wrong code: %d %s", rep.status, rep.raw)
			}
			rep = s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": code})
			if rep.status != http.StatusTooManyRequests {
				t.Fatalf("the right code after the lock: %d %s", rep.status, rep.raw)
			}
		})

		t.Run("a flood of guesses gets no more tries than the policy allows", func(t *testing.T) {
			r := people[3]
			id := s.startVerification(t, r)
			if rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
				t.Fatalf("sms: %d %s", rep.status, rep.raw)
			}
			code := s.waitForCode(t, r.Phone, 0)
			const guesses = 10_000
			var judged, succeeded atomic.Int64
			var wg sync.WaitGroup
			next := make(chan int)
			for w := 0; w < 32; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for g := range next {
						guess := fmt.Sprintf("%06d", g)
						if guess == code {
							continue // a guesser does not know the code
						}
						rep := s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": guess})
						switch rep.status {
						case http.StatusOK:
							succeeded.Add(1)
						case http.StatusUnprocessableEntity:
							judged.Add(1)
						}
					}
				}()
			}
			for g := 0; g < guesses; g++ {
				next <- g
			}
			close(next)
			wg.Wait()
			// 422 answers are the guesses that were judged wrong; the
			// fifth is answered 429 as it locks, the rest are refused.
			if succeeded.Load() != 0 || judged.Load() > 4 {
				t.Fatalf("%d guesses judged wrong, %d succeeded; the policy allows 5 tries", judged.Load(), succeeded.Load())
			}
			rep := s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": code})
			if rep.status != http.StatusTooManyRequests {
				t.Fatalf("the right code after the flood: %d %s", rep.status, rep.raw)
			}
		})

		t.Run("no code, phone, name or token in any log line", func(t *testing.T) {
			logs := s.logs.String()
			for _, r := range people[:4] {
				for _, m := range []string{r.Phone, r.Name, strings.ReplaceAll(r.RRN, "-", "")} {
					if strings.Contains(logs, m) {
						t.Errorf("logs contain %q", m)
					}
				}
			}
			if len(secrets) == 0 {
				t.Fatal("the flow test recorded no token")
			}
			for _, sec := range secrets {
				if strings.Contains(logs, sec) {
					t.Errorf("logs contain a code or token")
				}
			}
		})
	})
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestExpiredCodeFails(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, map[string]string{"OTP_TTL": "1s", "OTP_RESEND_COOLDOWN": "1s",
			// The SMS step's admission and the delivery margin stay under a
			// one-second code, as the settings check requires.
			"SMS_ADMIT_MAX_WAIT": "200ms", "SMS_DELIVERY_MARGIN": "100ms"})
		r := sim.BuiltIn()[4]
		id := s.startVerification(t, r)
		if rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
			t.Fatalf("sms: %d %s", rep.status, rep.raw)
		}
		code := s.waitForCode(t, r.Phone, 0)
		time.Sleep(1200 * time.Millisecond)
		rep := s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": code})
		if rep.status != http.StatusUnprocessableEntity || rep.body["sessionToken"] != nil {
			t.Fatalf("an expired code: %d %s", rep.status, rep.raw)
		}
	})
}

func TestUndeliveredCodeIsReported(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, map[string]string{"OTP_RESEND_COOLDOWN": "1s"})
		r := sim.BuiltIn()[1]
		id := s.startVerification(t, r)
		if rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
			t.Fatalf("sms: %d %s", rep.status, rep.raw)
		}
		code := s.waitForCode(t, r.Phone, 0)
		// What the sender does when a message is on its last receive.
		c, err := s.stack.Clients(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		store := dynamo.NewVerificationStore(c.DynamoDB, "pccc-local-Table", nil)
		if err := store.MarkDeliveryFailed(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		rep := s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": code})
		if rep.status != http.StatusUnprocessableEntity || rep.body["error"].(map[string]any)["delivery"] != "failed" {
			t.Fatalf("confirm after a failed delivery: %d %s", rep.status, rep.raw)
		}
		time.Sleep(1100 * time.Millisecond)
		if rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
			t.Fatalf("resend: %d %s", rep.status, rep.raw)
		}
		code = s.waitForCode(t, r.Phone, 1)
		if rep := s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": code}); rep.status != http.StatusOK {
			t.Fatalf("confirm after the resend: %d %s", rep.status, rep.raw)
		}
	})
}

// A message the sender can never send is retried until the outbox's
// redrive policy moves it to the dead-letter queue, where the alarm sees it.
func TestPoisonSMSReachesTheDLQ(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, nil)
		ctx := context.Background()
		c, err := s.stack.Clients(ctx)
		if err != nil {
			t.Fatal(err)
		}
		url := func(name string) string {
			out, err := c.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			return *out.QueueUrl
		}
		// Each SMS queue has its dead-letter queue: a code and a notice
		// that can never be sent each end in their own.
		for _, q := range []struct{ queue, dlq, body string }{
			{"SmsCodeQueue", "SmsCodeDLQ", `{"verificationId":"nope","sealed":"v1.x.garbage"}`},
			{"SmsNoticeQueue", "SmsNoticeDLQ", `{"noticeId":"n1","holderKey":"hk","phone":"v1.x.garbage","text":"t"}`},
		} {
			outbox, dlq := url("pccc-local-"+q.queue), url("pccc-local-"+q.dlq)
			// The template's 180 s visibility would make five receives take
			// fifteen minutes; the redrive rule is the same at one second.
			if _, err := c.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
				QueueUrl: aws.String(outbox), Attributes: map[string]string{"VisibilityTimeout": "1"},
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(outbox), MessageBody: aws.String(q.body)}); err != nil {
				t.Fatal(err)
			}
			if !reachesDLQ(t, c.SQS, dlq) {
				t.Fatalf("the poison message did not reach %s within 30s", q.dlq)
			}
		}
	})
}

// reachesDLQ waits for a poison message in a dead-letter queue.
func reachesDLQ(t *testing.T, q *sqs.Client, dlq string) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := q.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 1 && strings.Contains(*out.Messages[0].Body, "garbage") {
			return true
		}
	}
	return false
}

// A guesser who opens verification after verification for one person is
// stopped by the lock on the person, which counts failures across them.
func TestPersonLockAcrossVerifications(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, map[string]string{"OTP_PERSON_LOCK_AFTER": "6"})
		r := sim.BuiltIn()[3]
		wrongTries := func(id string, n int) {
			t.Helper()
			if rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
				t.Fatalf("sms: %d %s", rep.status, rep.raw)
			}
			for i := 0; i < n; i++ {
				s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": "000000"})
			}
		}
		wrongTries(s.startVerification(t, r), 5) // locks the first verification: 5 failures
		second := s.startVerification(t, r)
		wrongTries(second, 1) // the sixth failure locks the person
		rep := s.postJSON(t, "/v1/verifications/"+second+"/confirm", map[string]string{"otp": "000000"})
		if rep.status != http.StatusTooManyRequests || rep.errCode != "TOO_MANY_ATTEMPTS" || rep.header.Get("Retry-After") == "" {
			t.Fatalf("confirm after the person lock: %d %s", rep.status, rep.raw)
		}
		third := s.startVerification(t, r)
		rep = s.postJSON(t, "/v1/verifications/"+third+"/sms", smsBody(r))
		if rep.status != http.StatusTooManyRequests || rep.errCode != "TOO_MANY_ATTEMPTS" {
			t.Fatalf("a new verification's sms after the person lock: %d %s", rep.status, rep.raw)
		}
	})
}

// A code whose send fails is tried again within seconds (the sender sets
// its visibility to a short backoff), not after the code queue's 180 s
// visibility timeout, which would outlast most of the code's 3 minutes.
// The provider here refuses the first send and takes the next.
func TestFailedCodeSendIsRetriedSoon(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		var mu sync.Mutex
		var tries []time.Time
		var texts []string
		provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var m struct{ To, Text string }
			_ = json.NewDecoder(r.Body).Decode(&m)
			mu.Lock()
			defer mu.Unlock()
			tries = append(tries, time.Now())
			if len(tries) == 1 {
				http.Error(w, "provider down", http.StatusBadGateway)
				return
			}
			texts = append(texts, m.Text)
			w.WriteHeader(http.StatusAccepted)
		}))
		defer provider.Close()
		s := start(t, kind, map[string]string{"SMS_PROVIDER": "http", "SMS_HTTP_URL": provider.URL})
		r := sim.BuiltIn()[0]
		id := s.startVerification(t, r)
		if rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
			t.Fatalf("sms: %d %s", rep.status, rep.raw)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			n, got := len(tries), append([]string(nil), texts...)
			var gap time.Duration
			if n >= 2 {
				gap = tries[1].Sub(tries[0])
			}
			mu.Unlock()
			if len(got) == 1 {
				// Two tries: the refused one and its retry, seconds apart.
				if n != 2 || gap > 30*time.Second {
					t.Fatalf("%d tries, the retry %v after the failure", n, gap)
				}
				code := codeInText.FindString(got[0])
				rep := s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": code})
				if rep.status != http.StatusOK {
					t.Fatalf("confirm with the retried code: %d %s", rep.status, rep.raw)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %d tries no code was sent within 60 s of the failure (the queue's visibility timeout is 180 s)", n)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}
