// Package bureau is the adapter to the credit bureau (NICE / KCB) that says
// whether a name belongs to a registration number. It owns the wire protocol,
// which the local simulator (infra/sim) speaks too, and a client that fails
// fast: a per-attempt timeout, bounded jittered retries and a circuit
// breaker, so a dead bureau costs a caller milliseconds, not a hang.
package bureau

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/resilience"
)

// RealNamePath is the bureau's real-name route, under its base URL.
const RealNamePath = "/v1/realname"

// RealNameRequest is the body of POST {base}/v1/realname.
type RealNameRequest struct {
	Name string `json:"name"` // normalised, spaces removed
	RRN  string `json:"rrn"`  // 13 digits
}

// RealNameResponse is its answer.
type RealNameResponse struct {
	Match bool `json:"match"`
}

// Client calls the bureau over HTTP. It implements identity.Bureau.
type Client struct {
	base     string
	http     *http.Client
	timeout  time.Duration
	attempts int
	breaker  *resilience.Breaker
}

var _ identity.Bureau = (*Client)(nil)

// NewClient builds a client. timeout bounds each attempt; the breaker opens
// after five consecutive failed checks and stays open ten seconds.
func NewClient(baseURL string, hc *http.Client, timeout time.Duration, attempts int) *Client {
	return &Client{
		base: strings.TrimRight(baseURL, "/"), http: hc, timeout: timeout, attempts: attempts,
		breaker: resilience.NewBreaker(5, 10*time.Second),
	}
}

// Breaker exposes the circuit breaker, for tests and tuning.
func (c *Client) Breaker() *resilience.Breaker { return c.breaker }

// errStatus is a non-2xx answer.
type errStatus int

func (e errStatus) Error() string { return fmt.Sprintf("bureau answered HTTP %d", int(e)) }

// Match asks whether name belongs to rrn.
func (c *Client) Match(ctx context.Context, name string, rrn identity.RRN) (bool, error) {
	if ok, wait := c.breaker.Allow(); !ok {
		return false, &identity.UnavailableError{RetryAfter: wait, Err: errors.New("bureau circuit open")}
	}
	body, _ := json.Marshal(RealNameRequest{Name: identity.NameKey(name), RRN: rrn.Digits()})
	var match bool
	err := resilience.Retry(ctx, c.attempts, 50*time.Millisecond, 300*time.Millisecond, func(ctx context.Context) (bool, error) {
		m, err := c.once(ctx, body)
		if err != nil {
			var st errStatus
			// 4xx means our request is wrong: asking again will not help.
			retryable := !errors.As(err, &st) || int(st) >= 500
			return retryable, err
		}
		match = m
		return false, nil
	})
	c.breaker.Record(err == nil)
	if err != nil {
		return false, &identity.UnavailableError{RetryAfter: 5 * time.Second, Err: err}
	}
	return match, nil
}

func (c *Client) once(ctx context.Context, body []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+RealNamePath, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		// The error text holds only the URL and the transport failure.
		return false, fmt.Errorf("bureau request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return false, errStatus(resp.StatusCode)
	}
	var out RealNameResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&out); err != nil {
		return false, fmt.Errorf("bureau answer: %w", err)
	}
	return out.Match, nil
}
