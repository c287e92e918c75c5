package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pccc/pccc/functions"
	"github.com/pccc/pccc/infra/browser"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
	"github.com/pccc/pccc/shared/platform"
)

// filler marks the messages this test puts on the SMS code queue to fill
// the line; the held sender drops them when let go.
const filler = `{"browserTestFiller":true}`

// TestBrowserSMSWait: when codes cannot be sent in time (the SMS line
// full: the sender held, the code queue deep at one message a second),
// the phone step answers 503, and the page waits, saying the place in
// line and counting down, with the other way to get a code; it sends the
// same answers again by itself, and once the line moves the code comes,
// once, and the person goes on without typing anything again.
func TestBrowserSMSWait(t *testing.T) {
	var gate atomic.Pointer[chan struct{}]
	hold := func() { ch := make(chan struct{}); gate.Store(&ch) }
	let := func() {
		if ch := gate.Swap(nil); ch != nil {
			close(*ch)
		}
	}
	defer let()
	reg := maps.Clone(functions.Registry)
	reg["smssender"] = func(ctx context.Context, d platform.Deps) (any, error) {
		h, err := functions.Registry["smssender"](ctx, d)
		if err != nil {
			return nil, err
		}
		real, ok := h.(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error))
		if !ok {
			return nil, fmt.Errorf("smssender: handler is %T", h)
		}
		return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			if ch := gate.Load(); ch != nil {
				<-*ch
			}
			var rest events.SQSEvent
			for _, m := range ev.Records {
				if m.Body != filler {
					rest.Records = append(rest.Records, m)
				}
			}
			if len(rest.Records) == 0 {
				return events.SQSEventResponse{}, nil
			}
			return real(ctx, rest)
		}, nil
	}
	s := startWith(t, localstack.Embedded, map[string]string{"SMS_RATE": "1", "SMS_ADMIT_MAX_WAIT": "2s"}, reg)
	r := sim.BuiltIn()[0]
	j := newJourney(t, s, "ko", r)
	p, c := j.p, j.c

	p.Goto(s.url + "/")
	p.Click(j.role("link", "start.lookup"))
	j.heading("name.title")
	front, back, _ := strings.Cut(r.RRN, "-")
	p.Fill(j.label("name.name"), r.Name)
	p.Fill(j.label("name.rrn.front"), front)
	p.Fill(j.label("name.rrn.back"), back)
	p.Click(j.role("button", "name.submit"))
	j.heading("phone.title")
	p.Click(j.label("carrier." + r.Carrier))
	p.Fill(j.label("phone.birthDate"), r.BirthDate)
	p.Click(j.label("sex." + r.Sex))
	p.Fill(j.label("phone.phone"), r.Phone)

	// The line fills: the sender stops and six messages wait, six seconds
	// at one a second, over the two the SMS step may promise.
	hold()
	cl, err := s.stack.Clients(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q, err := cl.SQS.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String("pccc-local-SmsCodeQueue")})
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		if _, err := cl.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(filler)}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1500 * time.Millisecond) // the step reads the depth at most a second old
	p.Click(j.role("button", "phone.submit"))
	p.WaitFor(j.role("heading", "wait.title"), 15*time.Second)
	p.Find(browser.Role("timer", "").Partial())
	beforeN, _, _ := strings.Cut(c.s(t, "wait.position"), "{n}")
	j.waitText(beforeN, 5*time.Second)
	p.Find(j.role("heading", "alt.title"))
	if !p.Find(j.role("button", "phone.submit")).Disabled {
		t.Error("the submit button is enabled while the request waits")
	}
	p.Check("sms-waiting", "")
	var sent []browser.Request
	countSent := func() int {
		sent = sent[:0]
		for _, req := range p.Requests() {
			if req.Method == http.MethodPost && strings.HasSuffix(req.URL, "/sms") {
				sent = append(sent, req)
			}
		}
		return len(sent)
	}
	deadline := time.Now().Add(20 * time.Second)
	for countSent() < 2 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if n := countSent(); n < 2 {
		t.Fatalf("the phone step was sent %d times in 20 s of waiting, want it sent again by itself", n)
	}

	// The line moves: the page goes on to the code by itself.
	let()
	p.WaitFor(j.role("heading", "otp.title"), 30*time.Second)
	otp := j.otp()
	time.Sleep(1500 * time.Millisecond) // a second SMS, if one were sent, would come now
	var box struct {
		Messages []struct{ Text string } `json:"messages"`
	}
	_ = json.Unmarshal([]byte(s.do(t, http.MethodGet, "/_local/sms?phone="+r.Phone, "", "").raw), &box)
	if len(box.Messages) != 1 {
		t.Errorf("%d SMS sent to the phone, want one (the retries were one request)", len(box.Messages))
	}
	p.TabTo(j.label("otp.code"), 12)
	p.Type(otp)
	p.Press(browser.Enter)
	j.heading("me.title")
	t.Logf("the phone step was sent %d times before it was taken", countSent())
	j.noSecretsLeft(j.otps...)
}
