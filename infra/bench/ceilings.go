package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Ceilings are the closed-loop rates of one run, side by side.
type Ceilings struct {
	SendMessage, GetItem, TrivialHTTP Rate // what the system is built on
	Accept, Lookup                    Rate // the system's own paths
	AcceptAlone                       Rate // the accept path with the workers paused
	Drain                             Drain
}

// Rates are the closed-loop measurements in report order.
func (c Ceilings) Rates() []Rate {
	return []Rate{c.TrivialHTTP, c.SendMessage, c.GetItem, c.AcceptAlone, c.Accept, c.Lookup}
}

// Drain is how fast the workers emptied the backlog the accept run left.
type Drain struct {
	Backlog   int
	Took      time.Duration
	PerSecond float64
}

// Holders prepares n holders with a live code and returns their tokens.
func Holders(ctx context.Context, s *System, prefix string, n int) ([]string, error) {
	toks := make([]string, n)
	ids := make([]string, n)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			tok := s.Token(fmt.Sprintf("%s-%d", prefix, i))
			var a Answer
			var err error
			// A client told Retry-After comes back (admission control may
			// shed while the emulators warm up).
			for attempt := 0; attempt < 50; attempt++ {
				a, err = s.Call(ctx, "POST", "/v1/codes", tok, fmt.Sprintf("h-%s-%d", prefix, i), IssueBody(i))
				if err != nil || a.Status != 503 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			if err == nil && a.Status != 202 {
				err = fmt.Errorf("issue for holder %d: %d %v", i, a.Status, a.Body)
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			if err == nil {
				toks[i], ids[i] = tok, a.Body["requestId"].(string)
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	for i, id := range ids {
		if err := WaitDone(ctx, s, toks[i], id, time.Minute); err != nil {
			return nil, err
		}
	}
	return toks, nil
}

// WaitDone polls a request until it succeeded; a failure is an error.
func WaitDone(ctx context.Context, s *System, tok, id string, limit time.Duration) error {
	return s.waitFinished(ctx, tok, id, limit)
}

// MeasureCeilings runs the five closed-loop measurements one after the
// other in one process, then times the drain of the backlog the accept
// run left behind.
func MeasureCeilings(ctx context.Context, s *System, toks []string, workers int, warm, d time.Duration) (Ceilings, error) {
	var c Ceilings
	// Raw SendMessage: a scratch queue, a body the size of a command.
	q, err := s.Clients.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("pccc-bench-raw")})
	if err != nil {
		return c, err
	}
	body := strings.Repeat("x", 600)
	c.SendMessage = ClosedLoop(ctx, "SQS SendMessage (raw)", workers, warm, d, func(ctx context.Context, _, _ int) error {
		_, err := s.Clients.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(body)})
		return err
	})
	_, _ = s.Clients.SQS.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl})

	// Raw GetItem: a holder item, strongly consistent, as the lookup reads it.
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "HOLDER#bench-0"}, "SK": &types.AttributeValueMemberS{Value: "HOLDER"}}
	c.GetItem = ClosedLoop(ctx, "DynamoDB GetItem (raw)", workers, warm, d, func(ctx context.Context, _, _ int) error {
		_, err := s.Clients.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(TableName), Key: key, ConsistentRead: aws.Bool(true)})
		return err
	})

	// A trivial handler on loopback: the HTTP floor of this machine.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return c, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})}
	go func() { _ = srv.Serve(ln) }()
	hello := "http://" + ln.Addr().String() + "/"
	c.TrivialHTTP = ClosedLoop(ctx, "trivial net/http handler", workers, warm, d, func(ctx context.Context, _, _ int) error {
		req, _ := http.NewRequestWithContext(ctx, "GET", hello, nil)
		resp, err := s.HTTP.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	_ = srv.Close()

	// The accept path: a reissue with an idempotency key answered 202;
	// first with the workers paused (the API alone), then with them
	// draining the line at the same time, as in a surge.
	per := max(1, len(toks)/workers)
	accept := func(ctx context.Context, w, i int) error {
		tok := toks[(w*per+i%per)%len(toks)]
		a, err := s.Call(ctx, "POST", "/v1/codes/me/reissue", tok, fmt.Sprintf("b-%d-%d-%d", w, i, time.Now().UnixNano()), `{"reason":"leak_concern"}`)
		if err != nil {
			return err
		}
		if a.Status != 202 {
			return fmt.Errorf("status %d %v", a.Status, a.Body)
		}
		return nil
	}
	if err := s.PauseWorkers(); err != nil {
		return c, err
	}
	c.AcceptAlone = ClosedLoop(ctx, "reissue answered 202, workers paused", workers, warm, d, accept)
	if err := s.ResumeWorkers(); err != nil {
		return c, err
	}
	c.Accept = ClosedLoop(ctx, "reissue answered 202 (accept path)", workers, warm, d, accept)
	// The drain of what the accept runs queued.
	url, err := s.QueueURL(ctx, CommandName)
	if err != nil {
		return c, err
	}
	start := time.Now()
	backlog, _ := s.Depth(ctx, url)
	for {
		n, err := s.Depth(ctx, url)
		if err != nil {
			return c, err
		}
		if n == 0 || time.Since(start) > 10*time.Minute {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.Drain = Drain{Backlog: backlog, Took: time.Since(start)}
	if c.Drain.Took > 0 {
		c.Drain.PerSecond = float64(backlog) / c.Drain.Took.Seconds()
	}

	// The lookup path: GET /v1/codes/me, details decrypted.
	c.Lookup = ClosedLoop(ctx, "GET /v1/codes/me (lookup path)", workers, warm, d, func(ctx context.Context, w, i int) error {
		a, err := s.Call(ctx, "GET", "/v1/codes/me", toks[(w*per+i%per)%len(toks)], "", "")
		if err != nil {
			return err
		}
		if a.Status != 200 {
			return fmt.Errorf("status %d %v", a.Status, a.Body)
		}
		return nil
	})
	return c, nil
}
