// Package faults is a proxy that stands between the functions and a local
// DynamoDB or SQS endpoint and makes them misbehave the way AWS does under
// load, at set rates: throttling errors, added latency, dropped
// connections, and (for SQS) a message sent twice, which the consumer sees
// as a duplicate delivery. The local runner gives the functions clients
// pointed at it (localrun.Options.FunctionClients), so the system's own
// retries, idempotency and transactions are what get tested.
package faults

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Rates are the fault probabilities, each per request, from 0 to 1.
type Rates struct {
	Throttle    float64       // answer a throttling error instead of forwarding
	Drop        float64       // close the connection without an answer
	Slow        float64       // forward after Latency
	Latency     time.Duration // the added latency of a slow request
	Duplicate   float64       // SQS SendMessage: send the message twice
	DuplicateOf []string      // the X-Amz-Target values Duplicate applies to; default SendMessage
}

// Counts are what the proxy did.
type Counts struct {
	Requests, Throttled, Dropped, Slowed, Duplicated int64
}

// Proxy forwards to Target with faults.
type Proxy struct {
	Target string // the endpoint, http://127.0.0.1:port
	Rates  Rates

	client *http.Client
	mu     sync.Mutex
	rng    *rand.Rand
	n      struct{ requests, throttled, dropped, slowed, duplicated atomic.Int64 }
}

// New returns a proxy to target; seed makes a run repeatable.
func New(target string, r Rates, seed uint64) *Proxy {
	if len(r.DuplicateOf) == 0 {
		r.DuplicateOf = []string{"AmazonSQS.SendMessage"}
	}
	return &Proxy{
		Target: strings.TrimRight(target, "/"), Rates: r,
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}},
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

func (p *Proxy) roll(rate float64) bool {
	if rate <= 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64() < rate
}

// Counts reports what the proxy did so far.
func (p *Proxy) Counts() Counts {
	return Counts{Requests: p.n.requests.Load(), Throttled: p.n.throttled.Load(), Dropped: p.n.dropped.Load(),
		Slowed: p.n.slowed.Load(), Duplicated: p.n.duplicated.Load()}
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.n.requests.Add(1)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	switch {
	case p.roll(p.Rates.Drop):
		p.n.dropped.Add(1)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // closes the connection all the same
	case p.roll(p.Rates.Throttle):
		p.n.throttled.Add(1)
		throttle(w, r)
		return
	}
	if p.roll(p.Rates.Slow) {
		p.n.slowed.Add(1)
		time.Sleep(p.Rates.Latency)
	}
	target := r.Header.Get("X-Amz-Target")
	resp, err := p.forward(r, body)
	if err != nil {
		http.Error(w, "upstream: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && p.duplicable(target) && p.roll(p.Rates.Duplicate) {
		if dup, err := p.forward(r, body); err == nil {
			_, _ = io.Copy(io.Discard, dup.Body)
			_ = dup.Body.Close()
			p.n.duplicated.Add(1)
		}
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (p *Proxy) duplicable(target string) bool {
	for _, t := range p.Rates.DuplicateOf {
		if t == target {
			return true
		}
	}
	return false
}

func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.Target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	return p.client.Do(req)
}

// throttle answers the way DynamoDB and SQS (JSON protocol) do; the SDK
// recognises the code as a throttle and retries with backoff.
func throttle(w http.ResponseWriter, r *http.Request) {
	prefix := "com.amazonaws.dynamodb.v20120810#"
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.") {
		prefix = "com.amazonaws.sqs#"
		w.Header().Set("x-amzn-query-error", "ThrottlingException;Sender")
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = fmt.Fprintf(w, `{"__type":"%sThrottlingException","message":"Rate exceeded (injected)."}`, prefix)
}

// Start serves the proxy on a free loopback port and returns its URL and a
// function that stops it.
func (p *Proxy) Start() (string, func() error, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), srv.Close, nil
}
