package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pccc/pccc/functions"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/lifecycle"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/stats"
)

// killSwitch wraps the real worker: when armed, the next batch holding a
// reissue is carried out and then the worker dies (panics) before the
// runner can delete the messages, as a Lambda killed between its write and
// its delete would. (Only a reissue's batch: a late delivery of an earlier
// subtest's command must not take the kill meant for the reissue.)
type killSwitch struct {
	armed  atomic.Bool
	killed atomic.Int32
	mu     sync.Mutex
	seen   map[string]int // deliveries by request id
}

func (k *killSwitch) registry() map[string]platform.Builder {
	reg := functions.WithWorker(func(real functions.Worker) functions.Worker {
		return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			reissue := false
			k.mu.Lock()
			for _, m := range ev.Records {
				var msg lifecycle.Message
				_ = json.Unmarshal([]byte(m.Body), &msg)
				k.seen[msg.RequestID]++
				reissue = reissue || msg.Kind == holder.Reissue
			}
			k.mu.Unlock()
			resp, err := real(ctx, ev)
			if reissue && k.armed.CompareAndSwap(true, false) {
				k.killed.Add(1)
				panic("worker killed after its write, before the delete")
			}
			return resp, err
		}
	})
	return reg
}

func (k *killSwitch) deliveries(id string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.seen[id]
}

// TestCommandDelivery: at-least-once delivery never doubles an effect, and
// a command that can never be carried out ends in the DLQ with its request
// marked failed.
func TestCommandDelivery(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		k := &killSwitch{seen: map[string]int{}}
		s := startWith(t, kind, sessionEnv(nil), k.registry())
		ctx := context.Background()
		c := clients(t, s)
		began := time.Now()
		hk := "delivery-holder-" + string(kind)
		tok := mint(t, hk)
		s.succeeded(t, tok, accepted(t, s.call(t, "POST", "/v1/codes", tok, "", issueBody())))
		queue, dlq := commandQueue(t, s)
		requests := dynamo.NewRequestStore(c.DynamoDB, localTable)
		send := func(m lifecycle.Message) {
			t.Helper()
			b, _ := json.Marshal(m)
			if _, err := c.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queue), MessageBody: aws.String(string(b))}); err != nil {
				t.Fatal(err)
			}
		}

		t.Run("the same message delivered twice has one effect", func(t *testing.T) {
			id, _ := lifecycle.NewRequestID()
			if err := requests.Queue(ctx, holder.Request{ID: id, Owner: hk, Kind: "suspend", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			m := lifecycle.Message{V: lifecycle.MessageVersion, RequestID: id, Kind: holder.Suspend, Actor: holder.ByHolder, HolderKey: hk, QueuedAt: time.Now()}
			send(m)
			send(m)
			s.succeeded(t, tok, id)
			deadline := time.Now().Add(20 * time.Second)
			for k.deliveries(id) < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // let the second delivery finish
			if n := k.deliveries(id); n < 2 {
				t.Fatalf("the message was delivered %d times", n)
			}
			if v := s.finished(t, tok, id); v["status"] != "succeeded" {
				t.Fatalf("after the duplicate: %v", v)
			}
			if n := audits(t, s, hk)[id]; n != 1 {
				t.Fatalf("%d audit events for one request", n)
			}
			if got := countsToday(t, s, began)[stats.Suspended]; got != 1 {
				t.Fatalf("suspended counted %d times", got)
			}
			s.succeeded(t, tok, accepted(t, s.call(t, "POST", "/v1/codes/me/resume", tok, "", "")))
		})

		t.Run("a worker killed after its write, before the delete, causes no second effect", func(t *testing.T) {
			look := s.call(t, "GET", "/v1/codes/me", tok, "", "")
			before := look.body["code"].(string)
			k.armed.Store(true)
			id := accepted(t, s.call(t, "POST", "/v1/codes/me/reissue", tok, "", `{"reason":"lost"}`))
			v := s.succeeded(t, tok, id)
			deadline := time.Now().Add(20 * time.Second)
			for k.deliveries(id) < 2 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			if k.killed.Load() != 1 || k.deliveries(id) < 2 {
				t.Fatalf("killed %d times, %d deliveries: the redelivery was not exercised", k.killed.Load(), k.deliveries(id))
			}
			look = s.call(t, "GET", "/v1/codes/me", tok, "", "")
			if look.body["code"] != v["code"] || look.body["code"] == before || look.body["reissuesThisYear"] != float64(1) {
				t.Fatalf("after the redelivery: request %v, lookup %s", v, look.raw)
			}
			if live := liveCodesOf(t, s, hk); len(live) != 1 || live[0] != v["code"] {
				t.Fatalf("live codes %v", live)
			}
			if n := audits(t, s, hk)[id]; n != 1 {
				t.Fatalf("%d audit events for one reissue", n)
			}
			if got := countsToday(t, s, began)[stats.Reissued]; got != 1 {
				t.Fatalf("reissued counted %d times", got)
			}
		})

		t.Run("a message that always fails reaches the DLQ and its request says why", func(t *testing.T) {
			id, _ := lifecycle.NewRequestID()
			if err := requests.Queue(ctx, holder.Request{ID: id, Owner: hk, Kind: "renew", CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			// A command this worker does not know (one from a newer
			// release, say): retried, never carried out.
			send(lifecycle.Message{V: lifecycle.MessageVersion, RequestID: id, Kind: "frobnicate", Actor: holder.ByHolder, HolderKey: hk})
			deadline := time.Now().Add(45 * time.Second)
			found := false
			for !found && time.Now().Before(deadline) {
				out, err := c.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), WaitTimeSeconds: 1})
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range out.Messages {
					found = found || strings.Contains(*m.Body, id)
				}
			}
			if !found {
				t.Fatal("the message did not reach the DLQ within 45s")
			}
			v := s.finished(t, tok, id)
			if v["status"] != "failed" || v["error"] != lifecycle.ReasonUnprocessable {
				t.Fatalf("request after the DLQ: %v", v)
			}
			if n := k.deliveries(id); n != 5 {
				t.Errorf("delivered %d times, want maxReceiveCount 5", n)
			}
		})
	})
}

// TestDailyExpiry: the scheduled job expires codes past their expiry and
// cancels expired codes past the renewal window, through the queue.
func TestDailyExpiry(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(nil))
		ctx := context.Background()
		c := clients(t, s)
		began := time.Now()
		st := dynamo.NewCodeStore(c.DynamoDB, localTable, dynamo.NewStats(c.DynamoDB, localTable))
		now := time.Now().UTC()
		p := holder.DefaultPolicy()
		seed := func(hk, code string, r holder.Record) {
			t.Helper()
			h := dynamo.Holder{Key: hk, Code: code, Status: string(r.Status), IssuedAt: r.IssuedAt, ExpiresAt: r.ExpiresAt}
			h.Due, _ = r.Due(p)
			if err := st.Apply(ctx, dynamo.Change{RequestID: "seed-" + hk, Actor: "holder", Kind: stats.Issued, At: r.IssuedAt, New: h, NewCode: code}); err != nil {
				t.Fatal(err)
			}
		}
		due := now.Add(-50 * time.Hour)
		seed("due", "P100000000005", holder.Record{Status: holder.Active, IssuedAt: due.AddDate(-1, 0, 0), ExpiresAt: due})
		lapsed := now.Add(-p.RenewalWindow - 75*time.Hour)
		seed("lapsed", "P100000000013", holder.Record{Status: holder.Expired, IssuedAt: lapsed.AddDate(-1, 0, 0), ExpiresAt: lapsed})
		fresh := now.AddDate(0, 3, 0)
		seed("fresh", "P100000000021", holder.Record{Status: holder.Active, IssuedAt: fresh.AddDate(-1, 0, 0), ExpiresAt: fresh})

		r := s.do(t, http.MethodPost, "/_local/schedules/ExpiryFunctionDaily", "", "")
		if r.status != 200 {
			t.Fatalf("fire the schedule: %d %s", r.status, r.raw)
		}
		res, _ := r.body["result"].(map[string]any)
		if res["queued"] != float64(2) || len(res["days"].([]any)) != 7 {
			t.Fatalf("expiry run: %s", r.raw)
		}
		wait := func(hk, want string) dynamo.Holder {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) {
				h, err := st.Holder(ctx, hk)
				if err != nil {
					t.Fatal(err)
				}
				if h.Status == want {
					return h
				}
				time.Sleep(30 * time.Millisecond)
			}
			t.Fatalf("%s did not become %s", hk, want)
			return dynamo.Holder{}
		}
		h := wait("due", string(holder.Expired))
		if !h.Due.Equal(due.Add(p.RenewalWindow).Truncate(time.Nanosecond)) && h.Due.Sub(due.Add(p.RenewalWindow)).Abs() > time.Millisecond {
			t.Errorf("the expired holder is next due %v", h.Due)
		}
		wait("lapsed", string(holder.Cancelled))
		if _, status, _ := st.CodeOwner(ctx, "P100000000013"); status != dynamo.CodeRetired {
			t.Errorf("the lapsed code is %s", status)
		}
		if _, status, _ := st.CodeOwner(ctx, "P100000000005"); status != dynamo.CodeLive {
			t.Errorf("the expired (renewable) code is %s", status)
		}
		if h, _ := st.Holder(ctx, "fresh"); h.Status != string(holder.Active) {
			t.Errorf("a code three months from expiry became %s", h.Status)
		}
		got := countsToday(t, s, began)
		if got[stats.Expired] != 1 || got[stats.Cancelled] != 1 {
			t.Errorf("counters %v", got)
		}
		for _, hk := range []string{"due", "lapsed"} {
			a := audits(t, s, hk)
			if len(a) != 2 {
				t.Errorf("%s: %d audited requests, want the seed and the job's", hk, len(a))
			}
		}
		// A second run the same day finds nothing left to do.
		r = s.do(t, http.MethodPost, "/_local/schedules/ExpiryFunctionDaily", "", "")
		if res, _ := r.body["result"].(map[string]any); res["queued"] != float64(0) {
			t.Fatalf("second run: %s", r.raw)
		}
	})
}
