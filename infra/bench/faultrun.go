package bench

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pccc/pccc/infra/consistency"
	"github.com/pccc/pccc/infra/faults"
	"github.com/pccc/pccc/infra/localstack"
)

// DefaultFaults are the faults of the acceptance run: 5 % throttling, 1 %
// dropped connections, 5 % of calls 30 ms slower, 10 % of SQS sends
// duplicated, and every 20th worker batch killed after its write.
func DefaultFaults() Faults {
	return Faults{
		Rates:     faults.Rates{Throttle: 0.05, Drop: 0.01, Slow: 0.05, Latency: 30 * time.Millisecond, Duplicate: 0.10},
		KillEvery: 20,
	}
}

// FaultResult is what a run under faults did and what the consistency
// checker found.
type FaultResult struct {
	Holders, Commands   int
	Sent, Retried       int64 // HTTP calls, and 5xx answers retried
	Answered            int   // commands answered 202
	DynamoDB, SQS       faults.Counts
	Kills               int64
	DeadLetters         int
	Took                time.Duration
	Report              consistency.Report
	FailedHolders       int // holders whose client gave up (never expected)
	FirstClientProblems []string
}

// faultSteps is each holder's life in the run.
var faultSteps = []struct{ method, path, body string }{
	{"POST", "/v1/codes", ""},
	{"POST", "/v1/codes/me/reissue", `{"reason":"leak_concern"}`},
	{"POST", "/v1/codes/me/suspend", ""},
	{"POST", "/v1/codes/me/resume", ""},
	{"PATCH", "/v1/codes/me", `{"phone":"01012341234"}`},
	{"POST", "/v1/codes/me/reissue", `{"reason":"lost"}`},
	{"POST", "/v1/codes/me/cancel", ""},
}

// FaultCommandsPerHolder is how many commands each holder sends.
var FaultCommandsPerHolder = len(faultSteps)

// FaultRun starts a system with faults, lets holders go through their
// code's life concurrently (parallel at once; a client retries 5xx with
// the same Idempotency-Key, as Retry-After invites), then empties the
// dead-letter queue and runs the consistency checker.
func FaultRun(ctx context.Context, templatePath string, kind localstack.Kind, holders, parallel int, f Faults) (FaultResult, error) {
	res := FaultResult{Holders: holders, Commands: holders * len(faultSteps)}
	s, err := StartWith(ctx, templatePath, kind, map[string]string{"REISSUES_PER_YEAR": "366"}, &f)
	if err != nil {
		return res, err
	}
	defer s.Close()
	url, err := s.QueueURL(ctx, CommandName)
	if err != nil {
		return res, err
	}
	// Redeliveries after a kill within a second, not three minutes.
	if _, err := s.Clients.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url),
		Attributes: map[string]string{"VisibilityTimeout": "2"}}); err != nil {
		return res, err
	}
	start := time.Now()
	var mu sync.Mutex
	var answered []string
	var sent, retried atomic.Int64
	var wg sync.WaitGroup
	work := make(chan int)
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range work {
				if problem := s.holderLife(ctx, h, &sent, &retried, func(id string) {
					mu.Lock()
					answered = append(answered, id)
					mu.Unlock()
				}); problem != "" {
					mu.Lock()
					res.FailedHolders++
					if len(res.FirstClientProblems) < 5 {
						res.FirstClientProblems = append(res.FirstClientProblems, problem)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for h := range holders {
		work <- h
	}
	close(work)
	wg.Wait()
	res.Took = time.Since(start)
	res.Sent, res.Retried, res.Answered = sent.Load(), retried.Load(), len(answered)
	res.DynamoDB, res.SQS, res.Kills = s.DynamoDBFaults.Counts(), s.SQSFaults.Counts(), s.Kills.Load()

	dlq, err := s.QueueURL(ctx, DLQName)
	if err != nil {
		return res, err
	}
	var dead []string
	for {
		out, err := s.Clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(dlq), MaxNumberOfMessages: 10})
		if err != nil {
			return res, err
		}
		if len(out.Messages) == 0 {
			break
		}
		for _, m := range out.Messages {
			dead = append(dead, aws.ToString(m.Body))
			_, _ = s.Clients.SQS.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq), ReceiptHandle: m.ReceiptHandle})
		}
	}
	res.DeadLetters = len(dead)
	res.Report, err = consistency.Check(ctx, s.Clients.DynamoDB, TableName, consistency.Input{Answered: answered, DeadLetters: dead})
	return res, err
}

// holderLife runs one holder's steps; it returns "" or what went wrong.
func (s *System) holderLife(ctx context.Context, h int, sent, retried *atomic.Int64, answered func(string)) string {
	tok := s.Token(fmt.Sprintf("fault-%d", h))
	for i, st := range faultSteps {
		body := st.body
		if i == 0 {
			body = IssueBody(h)
		}
		key := fmt.Sprintf("f-%d-%d", h, i)
		var a Answer
		var err error
		for attempt := 0; attempt < 50; attempt++ {
			sent.Add(1)
			a, err = s.Call(ctx, st.method, st.path, tok, key, body)
			if err == nil && a.Status < 500 {
				break
			}
			retried.Add(1)
			time.Sleep(time.Duration(20*(attempt+1)) * time.Millisecond)
		}
		if err != nil || a.Status != 202 {
			return fmt.Sprintf("holder %d step %d: %d %v %v", h, i, a.Status, a.Body, err)
		}
		id := a.Body["requestId"].(string)
		answered(id)
		if err := s.waitFinished(ctx, tok, id, 2*time.Minute); err != nil {
			return fmt.Sprintf("holder %d step %d: %v", h, i, err)
		}
	}
	return ""
}

// waitFinished polls a request until it ended; 5xx answers are retried.
func (s *System) waitFinished(ctx context.Context, tok, id string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		a, err := s.Call(ctx, "GET", "/v1/requests/"+id, tok, "", "")
		if err == nil && a.Status == 200 {
			switch a.Body["status"] {
			case "succeeded":
				return nil
			case "failed":
				return fmt.Errorf("request %s failed: %v", id, a.Body["error"])
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("request %s not finished within %v", id, limit)
}

// WriteFaults writes the fault run's section.
func WriteFaults(w io.Writer, r FaultResult) {
	fmt.Fprintf(w, "%d holders × %d commands (issue, reissue, suspend, resume, update, reissue, cancel) = **%d commands**, %d HTTP calls (%d answered 5xx or failed and were retried with the same Idempotency-Key), in %.0f s.\n\n",
		r.Holders, len(faultSteps), r.Commands, r.Sent, r.Retried, r.Took.Seconds())
	fmt.Fprintf(w, "| injected | DynamoDB | SQS |\n|---|---:|---:|\n")
	fmt.Fprintf(w, "| calls through the proxy | %d | %d |\n| throttled | %d | %d |\n| connections dropped | %d | %d |\n| slowed by 30 ms | %d | %d |\n| sends duplicated | - | %d |\n\n",
		r.DynamoDB.Requests, r.SQS.Requests, r.DynamoDB.Throttled, r.SQS.Throttled, r.DynamoDB.Dropped, r.SQS.Dropped, r.DynamoDB.Slowed, r.SQS.Slowed, r.SQS.Duplicated)
	rep := r.Report
	fmt.Fprintf(w, "Worker batches killed after their write: %d. Dead letters: %d.\n\n", r.Kills, r.DeadLetters)
	fmt.Fprintf(w, "Consistency checker: %d requests (%d succeeded, %d failed with a reason, %d stuck, %d lost), %d holders, %d live and %d retired codes; counters %v = succeeded commands %v; **%d violations**.\n",
		rep.Requests, rep.Succeeded, rep.Failed, rep.Stuck, rep.Lost, rep.Holders, rep.LiveCodes, rep.RetiredCodes, rep.Counters, rep.SucceededByKind, len(rep.Violations))
	for _, v := range rep.Violations {
		fmt.Fprintf(w, "- %s\n", v)
	}
}
