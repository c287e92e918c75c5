package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/idempotency"
	"github.com/pccc/pccc/shared/lifecycle"
)

// Ceilings are the closed-loop rates of one run, side by side.
type Ceilings struct {
	SendMessage, TrivialHTTP Rate // what the system is built on
	// AcceptCalls are the SDK calls one accepted reissue makes, made raw
	// from this process with the same inputs: the holder's read and the
	// request's conditional write at once, then the send. GetItem is the
	// lookup's one call, on the same holders' items. They are the fair
	// baselines of the two paths (FairRatios).
	AcceptCalls, GetItem Rate
	// AcceptCallsHTTP are the same calls behind a trivial handler, called
	// over loopback as the accept path is: its calls and the HTTP hop.
	AcceptCallsHTTP Rate
	Accept, Lookup  Rate // the system's own paths, over loopback HTTP
	AcceptAlone     Rate // the accept path with the workers paused
	// AcceptDirect and LookupDirect are the same paths' functions invoked
	// in this process with the events API Gateway would send them
	// (System.directCall): in AWS the HTTP server and the event are API
	// Gateway's, so these are what the fair ratios hold against the raw
	// calls.
	AcceptDirect, LookupDirect Rate
	Drain                      Drain
}

// Rates are the closed-loop measurements in report order.
func (c Ceilings) Rates() []Rate {
	return []Rate{c.TrivialHTTP, c.SendMessage, c.AcceptCalls, c.AcceptCallsHTTP, c.AcceptDirect, c.AcceptAlone, c.Accept, c.GetItem, c.LookupDirect, c.Lookup}
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
	// draining the line at the same time, as in a surge. Each worker
	// cycles through its share of the holders; the raw baselines read
	// the same holders' items in the same order.
	per := max(1, len(toks)/workers)
	hks, err := s.holderKeys(toks)
	if err != nil {
		return c, err
	}
	holderOf := func(w, i int) string { return hks[(w*per+i%per)%len(hks)] }
	tokOf := func(w, i int) string { return toks[(w*per+i%per)%len(toks)] }
	acceptKey := func(w, i int) string {
		return "b-" + strconv.Itoa(w) + "-" + strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	accept := func(ctx context.Context, w, i int) error {
		return s.expect(ctx, "POST", "/v1/codes/me/reissue", tokOf(w, i), acceptKey(w, i), `{"reason":"leak_concern"}`, http.StatusAccepted)
	}
	reissueDirect, err := s.directCall("POST", "/v1/codes/me/reissue", `{"reason":"leak_concern"}`, toks, true, http.StatusAccepted)
	if err != nil {
		return c, err
	}
	tokIndex := func(w, i int) int { return (w*per + i%per) % len(toks) }
	acceptDirect := func(ctx context.Context, w, i int) error {
		return reissueDirect(ctx, tokIndex(w, i), acceptKey(w, i))
	}
	lookupDirect, err := s.directCall("GET", "/v1/codes/me", "", toks, false, http.StatusOK)
	if err != nil {
		return c, err
	}
	if err := s.PauseWorkers(); err != nil {
		return c, err
	}
	// Its calls made raw, side by side with it (turn about, the workers
	// paused alike).
	raw, hop, cleanup, err := acceptCallOps(ctx, s, holderOf, tokOf)
	if err != nil {
		return c, err
	}
	rs := Alternate(ctx, workers, warm, d, raw, hop,
		Op{Name: "reissue answered 202, the function invoked in-process, workers paused", Do: acceptDirect},
		Op{Name: "reissue answered 202, workers paused", Do: accept})
	cleanup()
	c.AcceptCalls, c.AcceptCallsHTTP, c.AcceptDirect, c.AcceptAlone = rs[0], rs[1], rs[2], rs[3]
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

	// The lookup's one call made raw: the holder's item, strongly
	// consistent, as the lookup reads it, cycling through the same items;
	// and the lookup path itself, GET /v1/codes/me, details decrypted;
	// side by side, turn about.
	rs = Alternate(ctx, workers, warm, d, Op{Name: "DynamoDB GetItem (raw, the lookup's call)", Do: func(ctx context.Context, w, i int) error {
		_, err := s.Clients.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(TableName), Key: holderItemKey(holderOf(w, i)), ConsistentRead: aws.Bool(true)})
		return err
	}}, Op{Name: "GET /v1/codes/me, the function invoked in-process (lookup path)", Do: func(ctx context.Context, w, i int) error {
		return lookupDirect(ctx, tokIndex(w, i), "")
	}}, Op{Name: "GET /v1/codes/me (lookup path)", Do: func(ctx context.Context, w, i int) error {
		return s.expect(ctx, "GET", "/v1/codes/me", tokOf(w, i), "", "", http.StatusOK)
	}})
	c.GetItem, c.LookupDirect, c.Lookup = rs[0], rs[1], rs[2]
	return c, nil
}

// holderKeys are the holder keys the tokens were minted for.
func (s *System) holderKeys(toks []string) ([]string, error) {
	hks := make([]string, len(toks))
	for i, tok := range toks {
		cl, err := s.issuer.Verify(tok)
		if err != nil {
			return nil, fmt.Errorf("holder %d: %w", i, err)
		}
		hks[i] = cl.HolderKey
	}
	return hks, nil
}

// holderItemKey is the key of a holder's item (shared/dynamo's).
func holderItemKey(hk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "HOLDER#" + hk}, "SK": &types.AttributeValueMemberS{Value: "HOLDER"}}
}

// acceptCallOps are, as operations to measure, the SDK calls made raw
// that, raw, the SDK calls an accepted reissue makes
// (shared/lifecycle Service.Submit with an Idempotency-Key): the holder's
// item read, strongly consistent, while the request record is written
// with the claim's condition (shared/dynamo RequestStore.Claim: the same
// item, condition, names, values and return of the old item), then the
// command sent, a body the size of a reissue's message, to a queue of its
// own (the workers must not meet it).
func acceptCallOps(ctx context.Context, s *System, holderOf, tokOf func(w, i int) string) (raw, hop Op, cleanup func(), err error) {
	q, err := s.Clients.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("pccc-bench-accept-raw")})
	if err != nil {
		return raw, hop, nil, err
	}
	var closers []func()
	cleanup = func() {
		for _, c := range closers {
			c()
		}
	}
	closers = append(closers, func() {
		_, _ = s.Clients.SQS.DeleteQueue(context.WithoutCancel(ctx), &sqs.DeleteQueueInput{QueueUrl: q.QueueUrl})
	})
	body, err := json.Marshal(lifecycle.Message{V: lifecycle.MessageVersion, RequestID: lifecycle.RequestIDFor(holderOf(0, 0), "b-0-0-1764800000000000000"),
		Kind: holder.Reissue, Actor: holder.ByHolder, HolderKey: holderOf(0, 0), Reason: "leak_concern", Sealed: map[string]string{}, QueuedAt: time.Now()})
	if err != nil {
		cleanup()
		return raw, hop, nil, err
	}
	msg := string(body)
	// The claim's payload hash: a route and body's SHA-256, in hex.
	hash := idempotency.Fingerprint("POST /v1/codes/me/reissue", []byte(`{"reason":"leak_concern"}`))
	var seq atomic.Int64
	calls := func(ctx context.Context, hk string, i int) error {
		now := time.Now()
		id := fmt.Sprintf("raw%019d", seq.Add(1)) // 22 characters, as a request id
		got := make(chan error, 1)
		go func() {
			_, err := s.Clients.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(TableName), Key: holderItemKey(hk), ConsistentRead: aws.Bool(true)})
			got <- err
		}()
		str := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
		num := func(v int64) types.AttributeValue {
			return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
		}
		_, err := s.Clients.DynamoDB.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(TableName),
			Item: map[string]types.AttributeValue{
				"PK": str("REQ#" + id), "SK": str("REQ"), "owner": str(hk), "kind": str(string(holder.Reissue)), "status": str("queued"),
				"createdAt": str(now.UTC().Format(time.RFC3339Nano)), "position": num(1 + int64(i)), "payloadHash": str(hash),
				"keyUntil": num(now.Add(24 * time.Hour).UnixMilli()), "ttl": num(now.Add(7 * 24 * time.Hour).Unix()),
			},
			ConditionExpression:                 aws.String("attribute_not_exists(PK) OR keyUntil < :now OR (#status = :failed AND unsent = :yes)"),
			ExpressionAttributeNames:            map[string]string{"#status": "status"},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.UnixMilli()), ":failed": str("failed"), ":yes": &types.AttributeValueMemberBOOL{Value: true}},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if gerr := <-got; err == nil {
			err = gerr
		}
		if err != nil {
			return err
		}
		_, err = s.Clients.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(msg)})
		return err
	}
	raw = Op{Name: "its calls made raw: GetItem ∥ conditional PutItem, then SendMessage", Do: func(ctx context.Context, w, i int) error {
		return calls(ctx, holderOf(w, i), i)
	}}
	// The same calls behind a trivial handler on loopback, called as the
	// accept path is (the same headers and body): what the HTTP hop adds,
	// without the runner and the function.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cleanup()
		return raw, hop, nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		i, _ := strconv.Atoi(r.URL.Query().Get("i"))
		if err := calls(r.Context(), r.URL.Query().Get("hk"), i); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"requestId":"raw0000000000000000001","status":"queued","statusUrl":"/v1/requests/raw0000000000000000001"}`))
	})}
	go func() { _ = srv.Serve(ln) }()
	closers = append(closers, func() { _ = srv.Close() })
	hopURL := "http://" + ln.Addr().String()
	hop = Op{Name: "its calls made raw behind a trivial net/http handler", Do: func(ctx context.Context, w, i int) error {
		return callExpect(ctx, s.HTTP, "POST", hopURL+"/?hk="+url.QueryEscape(holderOf(w, i))+"&i="+strconv.Itoa(i), tokOf(w, i),
			"b-"+strconv.Itoa(w)+"-"+strconv.Itoa(i)+"-"+strconv.FormatInt(time.Now().UnixNano(), 10), `{"reason":"leak_concern"}`, http.StatusAccepted)
	}}
	return raw, hop, cleanup, nil
}
