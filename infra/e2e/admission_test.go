package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pccc/pccc/functions"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
)

// TestAdmissionControl: with the workers stalled, the line grows; a command
// whose estimated wait passes ADMIT_MAX_WAIT is refused at once with 503
// and Retry-After, queued ones say where they stand, and when the workers
// come back every queued command is carried out.
func TestAdmissionControl(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		release := make(chan struct{})
		reg := functions.WithWorker(func(real functions.Worker) functions.Worker {
			return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				<-release // stalled until the test lets the workers go
				return real(ctx, ev)
			}
		})
		s := startWith(t, kind, sessionEnv(map[string]string{"WORKER_RATE": "1", "ADMIT_MAX_WAIT": "4s"}), reg)
		defer func() {
			select {
			case <-release:
			default:
				close(release)
			}
		}()
		toks := make([]string, 6)
		var ids []string
		for i := range toks {
			toks[i] = mint(t, "admission-"+string(kind)+"-"+strconv.Itoa(i))
		}
		// At one command a second, four in line wait four seconds: the
		// bound. The fifth would wait five.
		for i := 0; i < 4; i++ {
			ids = append(ids, accepted(t, s.call(t, "POST", "/v1/codes", toks[i], "", issueBody())))
		}
		r := s.call(t, "POST", "/v1/codes", toks[4], "", issueBody())
		if r.status != 503 || r.errCode != "OVERLOADED" || r.header.Get("Retry-After") == "" {
			t.Fatalf("the fifth command: %d %s", r.status, r.raw)
		}
		if retry, _ := strconv.Atoi(r.header.Get("Retry-After")); retry < 1 || retry > 10 {
			t.Errorf("Retry-After %d", retry)
		}
		v := s.call(t, "GET", "/v1/requests/"+ids[3], toks[3], "", "")
		if v.body["status"] != "queued" || v.body["position"] == nil || v.body["estimatedWaitSeconds"] == nil {
			t.Fatalf("a queued request: %s", v.raw)
		}
		if pos := v.body["position"].(float64); pos < 1 || pos > 4 {
			t.Errorf("position %v", pos)
		}
		close(release)
		for i, id := range ids {
			s.succeeded(t, toks[i], id)
		}
		// The line drained: commands are taken again (the depth is read
		// again after at most a second).
		deadline := time.Now().Add(10 * time.Second)
		for {
			r = s.call(t, "POST", "/v1/codes", toks[5], "", issueBody())
			if r.status == 202 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r.status != 202 {
			t.Fatalf("after the drain: %d %s", r.status, r.raw)
		}
	})
}

// TestAdmissionRate: with ADMIT_MAX_RATE, a burst of commands gets at most
// the rate's budget taken (counted over all instances in 250 ms windows)
// and the rest refused at once with 503 OVERLOADED and Retry-After; a
// refused command stored nothing, so sending it again later with the same
// Idempotency-Key is taken; every taken command is carried out.
func TestAdmissionRate(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		// 8 a second: 2 per 250 ms window.
		s := start(t, kind, sessionEnv(map[string]string{"ADMIT_MAX_RATE": "8"}))
		const n = 60
		toks := make([]string, n)
		for i := range toks {
			toks[i] = mint(t, "rate-"+string(kind)+"-"+strconv.Itoa(i))
		}
		replies := make([]reply, n)
		var wg sync.WaitGroup
		began := time.Now()
		for i := range toks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				replies[i] = s.call(t, "POST", "/v1/codes", toks[i], "burst-"+strconv.Itoa(i), issueBody())
			}()
		}
		wg.Wait()
		windows := int(time.Since(began)/(250*time.Millisecond)) + 2 // the burst's windows, partial ones at both ends
		var taken, refused []int
		for i, r := range replies {
			switch {
			case r.status == 202:
				taken = append(taken, i)
			case r.status == 503 && r.errCode == "OVERLOADED" && r.header.Get("Retry-After") == "1":
				refused = append(refused, i)
			default:
				t.Fatalf("command %d: %d %s (Retry-After %q)", i, r.status, r.raw, r.header.Get("Retry-After"))
			}
		}
		t.Logf("%d taken, %d refused at once, over %d windows", len(taken), len(refused), windows)
		if len(taken) < 1 || len(taken) > 2*windows || len(refused) == 0 {
			t.Fatalf("%d taken, %d refused over %d windows of 2", len(taken), len(refused), windows)
		}
		for _, i := range taken {
			s.succeeded(t, toks[i], replies[i].body["requestId"].(string))
		}
		// The same command again, same key, after the window: taken.
		i := refused[0]
		var r reply
		for deadline := time.Now().Add(10 * time.Second); ; {
			r = s.call(t, "POST", "/v1/codes", toks[i], "burst-"+strconv.Itoa(i), issueBody())
			if r.status != 503 || time.Now().After(deadline) {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		s.succeeded(t, toks[i], accepted(t, r))
	})
}

// TestSMSAdmissionCountsNothing: a start the SMS step's admission refuses
// (the code could not reach the phone in time at the provider's rate) is
// answered 503 with Retry-After and the place in line, and leaves the
// tables exactly as they were: no phone, person, verification or address
// counter, no statistics, no code on the verification; and no message on
// the code queue, none at the phone. The same dump does change with the
// real-name step before it, which counts.
func TestSMSAdmissionCountsNothing(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		// One SMS a second and a half-second bound: even the first code in
		// an empty line waits a second, so every start is refused.
		s := start(t, kind, map[string]string{"SMS_RATE": "1", "SMS_ADMIT_MAX_WAIT": "500ms", "OTP_SENDS_PER_PHONE_PER_DAY": "2"})
		r := sim.BuiltIn()[4]
		sorted := func() string {
			lines := strings.Split(dumpTables(t, s.stack), "\n")
			slices.Sort(lines)
			return strings.Join(lines, "\n")
		}
		empty := sorted()
		id := s.startVerification(t, r)
		before := sorted()
		if before == empty {
			t.Fatal("the real-name step changed nothing in the dump: the comparison below would prove nothing")
		}
		// More refusals than the phone's daily codes: none of them counts.
		for i := range 4 {
			rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r))
			e, _ := rep.body["error"].(map[string]any)
			if rep.status != http.StatusServiceUnavailable || rep.errCode != "OVERLOADED" || retryAfter(rep) < 1 || e["position"] == nil {
				t.Fatalf("start %d: %d Retry-After %q %s", i, rep.status, rep.header.Get("Retry-After"), rep.raw)
			}
		}
		if after := sorted(); after != before {
			t.Fatalf("a refused start changed the tables:\nbefore\n%s\nafter\n%s", before, after)
		}
		c, err := s.stack.Clients(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		url, err := c.SQS.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String("pccc-local-SmsCodeQueue")})
		if err != nil {
			t.Fatal(err)
		}
		q, err := c.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: url.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"} {
			// goaws reports no delayed count; the others must be there.
			if v, ok := q.Attributes[a]; v != "0" && (ok || a != "ApproximateNumberOfMessagesDelayed") {
				t.Errorf("code queue %s = %q after refused starts", a, v)
			}
		}
		time.Sleep(500 * time.Millisecond)
		rep := s.do(t, http.MethodGet, "/_local/sms?phone="+r.Phone, "", "")
		var out struct {
			Messages *[]json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal([]byte(rep.raw), &out); err != nil || out.Messages == nil || len(*out.Messages) != 0 {
			t.Fatalf("the phone's SMS: %d %s", rep.status, rep.raw)
		}
	})
}
