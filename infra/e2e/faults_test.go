package e2e

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pccc/pccc/functions"
	"github.com/pccc/pccc/infra/consistency"
	"github.com/pccc/pccc/infra/faults"
	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/platform"
)

// TestUnderFaults runs many holders' commands while DynamoDB and SQS
// throttle, slow down and drop connections, SQS sends some commands twice
// and the worker is killed after its write in some batches; then the
// consistency checker must find nothing wrong. (make bench runs the same
// at 10,000+ requests.)
func TestUnderFaults(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		rates := faults.Rates{Throttle: 0.05, Drop: 0.01, Slow: 0.05, Latency: 30 * time.Millisecond, Duplicate: 0.10}
		var dynamoProxy, sqsProxy *faults.Proxy
		var batches, kills atomic.Int64
		s := startCustom(t, kind, sessionEnv(nil), func(stack *localstack.Stack, o *localrun.Options) {
			dynamoProxy = faults.New(stack.DynamoDBEndpoint, rates, 1)
			sqsProxy = faults.New(stack.SQSEndpoint, rates, 2)
			d, stopD, err := dynamoProxy.Start()
			if err != nil {
				t.Fatal(err)
			}
			q, stopQ, err := sqsProxy.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = stopD(); _ = stopQ() })
			c, err := awsclient.New(context.Background(), awsclient.Options{Region: stack.Region, DynamoDBEndpoint: d, SQSEndpoint: q})
			if err != nil {
				t.Fatal(err)
			}
			o.FunctionClients = c
			reg := maps.Clone(functions.Registry)
			reg["codeworker"] = func(ctx context.Context, d platform.Deps) (any, error) {
				h, err := codeapi.BuildWorker(ctx, d)
				if err != nil {
					return nil, err
				}
				real := h.(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error))
				return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
					resp, err := real(ctx, ev)
					if batches.Add(1)%20 == 0 {
						kills.Add(1)
						panic("worker killed after its write, before the delete")
					}
					return resp, err
				}, nil
			}
			o.Registry = reg
		})
		_, dlq := commandQueue(t, s)

		steps := []struct{ method, path, body string }{
			{"POST", "/v1/codes", issueBody()},
			{"POST", "/v1/codes/me/reissue", `{"reason":"leak_concern"}`},
			{"POST", "/v1/codes/me/suspend", ""},
			{"POST", "/v1/codes/me/resume", ""},
			{"PATCH", "/v1/codes/me", `{"phone":"01012341234"}`},
			{"POST", "/v1/codes/me/reissue", `{"reason":"lost"}`},
			{"POST", "/v1/codes/me/cancel", ""},
		}
		const holders = 24
		var mu sync.Mutex
		var answered []string
		var sent, shed atomic.Int64
		var wg sync.WaitGroup
		for h := range holders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok := mint(t, fmt.Sprintf("faults-%s-%d", kind, h))
				for i, st := range steps {
					// A client that retries a 503 with the same key, as
					// API.md's Retry-After invites.
					key := fmt.Sprintf("k-%d-%d", h, i)
					var r reply
					for attempt := 0; attempt < 20; attempt++ {
						sent.Add(1)
						r = s.call(t, st.method, st.path, tok, key, st.body)
						if r.status < 500 {
							break
						}
						shed.Add(1)
						time.Sleep(50 * time.Millisecond)
					}
					if r.status != 202 {
						t.Errorf("holder %d step %d: %d %s", h, i, r.status, r.raw)
						return
					}
					id := r.body["requestId"].(string)
					mu.Lock()
					answered = append(answered, id)
					mu.Unlock()
					if v := s.finished(t, tok, id); v["status"] != "succeeded" {
						t.Errorf("holder %d step %d: %v", h, i, v)
						return
					}
				}
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		c := clients(t, s)
		var dead []string
		for {
			out, err := c.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Messages) == 0 {
				break
			}
			for _, m := range out.Messages {
				dead = append(dead, aws.ToString(m.Body))
				_, _ = c.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq), ReceiptHandle: m.ReceiptHandle})
			}
		}
		rep, err := consistency.Check(context.Background(), c.DynamoDB, localTable, consistency.Input{Answered: answered, DeadLetters: dead})
		if err != nil {
			t.Fatal(err)
		}
		dc, qc := dynamoProxy.Counts(), sqsProxy.Counts()
		t.Logf("%d requests sent (%d answered 5xx and retried), %d commands answered 202; DynamoDB proxy %+v; SQS proxy %+v; worker batches %d, killed %d; dead letters %d",
			sent.Load(), shed.Load(), len(answered), dc, qc, batches.Load(), kills.Load(), len(dead))
		if !rep.OK() {
			t.Fatalf("violations:\n%v", rep.Violations)
		}
		if len(answered) != holders*len(steps) || rep.Succeeded < holders*len(steps) {
			t.Fatalf("answered %d, succeeded %d", len(answered), rep.Succeeded)
		}
		if dc.Throttled == 0 || dc.Dropped == 0 || qc.Duplicated == 0 || kills.Load() == 0 {
			t.Fatalf("the faults were not exercised: %+v %+v kills %d", dc, qc, kills.Load())
		}
	})
}
