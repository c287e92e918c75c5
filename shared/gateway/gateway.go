// Package gateway calls the outside services that answer a yes/no question
// about a person (the credit bureau, the carriers) over JSON and HTTP, and
// fails fast while doing it: a per-attempt timeout, bounded jittered retries,
// an overall deadline and a circuit breaker, so a slow or dead service costs
// a caller milliseconds and a Retry-After instead of a hang (DOMAIN.md, the
// surge). Each adapter (shared/bureau, shared/carrier) owns its own wire
// types and wraps one Client.
//
// 5xx answers, garbled answers and transport failures are worth retrying and
// count against the breaker; a 4xx means our request is wrong, so it is
// neither retried nor held against the service.
package gateway

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

// Backoff between attempts: full jitter under these bounds.
const (
	backoffBase = 50 * time.Millisecond
	backoffMax  = 250 * time.Millisecond
	// retryAfterTransient is the hint when a call failed but the breaker is
	// still closed: a blip, worth another try soon.
	retryAfterTransient = 2 * time.Second
	maxAnswerBytes      = 64 << 10
)

// Options configure a Client.
type Options struct {
	Service     string              // "bureau", "carrier": used in error texts
	URL         string              // the full URL posted to
	HTTP        *http.Client        // nil: a client on http.DefaultTransport
	Timeout     time.Duration       // per attempt; default 2s
	Attempts    int                 // default 2
	Breaker     *resilience.Breaker // nil: opens after 5 failed calls for 10s
	Unavailable error               // wrapped by every "cannot answer now" error
}

// Client posts JSON to one URL.
type Client struct{ o Options }

// New checks the options and fills in defaults.
func New(o Options) (*Client, error) {
	if !strings.HasPrefix(o.URL, "http://") && !strings.HasPrefix(o.URL, "https://") {
		return nil, fmt.Errorf("%s: base URL must be http(s)", o.Service)
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Transport: http.DefaultTransport}
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Attempts < 1 {
		o.Attempts = 2
	}
	if o.Breaker == nil {
		o.Breaker = resilience.NewBreaker(5, 10*time.Second, nil)
	}
	if o.Unavailable == nil {
		o.Unavailable = errors.New(o.Service + " unavailable")
	}
	return &Client{o: o}, nil
}

// MaxDuration is the longest a call can take: every attempt timing out plus
// the largest backoffs between them.
func (c *Client) MaxDuration() time.Duration {
	return time.Duration(c.o.Attempts)*c.o.Timeout + time.Duration(c.o.Attempts-1)*backoffMax
}

// statusError is a non-200 answer.
type statusError struct {
	service string
	code    int
}

func (e statusError) Error() string { return fmt.Sprintf("%s answered HTTP %d", e.service, e.code) }

// Post sends in and decodes the 200 answer into out. An outage (breaker
// open, retries spent) is an *identity.UnavailableError wrapping
// Options.Unavailable; a 4xx is a plain error.
func (c *Client) Post(ctx context.Context, in, out any) error {
	if ok, wait := c.o.Breaker.Allow(); !ok {
		return &identity.UnavailableError{RetryAfter: wait, Err: fmt.Errorf("%w: circuit open", c.o.Unavailable)}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s request: %w", c.o.Service, err)
	}
	// The whole call, retries included, is bounded, whatever the caller's
	// context allows.
	ctx, cancel := context.WithTimeout(ctx, c.MaxDuration()+50*time.Millisecond)
	defer cancel()
	err = resilience.Retry(ctx, c.o.Attempts, backoffBase, backoffMax, func(ctx context.Context) (bool, error) {
		err := c.once(ctx, body, out)
		var st statusError
		return err != nil && (!errors.As(err, &st) || st.code >= 500), err
	})
	var st statusError
	if errors.As(err, &st) && st.code < 500 {
		// The service is up and refused our request: a bug on our side, not
		// an outage, so it neither opens the breaker nor asks the caller to
		// retry.
		c.o.Breaker.Record(true)
		return err
	}
	c.o.Breaker.Record(err == nil)
	if err != nil {
		wait := c.o.Breaker.RetryAfter()
		if wait <= 0 {
			wait = retryAfterTransient
		}
		return &identity.UnavailableError{RetryAfter: wait, Err: fmt.Errorf("%w: %w", c.o.Unavailable, err)}
	}
	return nil
}

// once makes one attempt. Error texts carry the service and status only,
// never the request body.
func (c *Client) once(ctx context.Context, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.o.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("%s request: %w", c.o.Service, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
		return statusError{service: c.o.Service, code: resp.StatusCode}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes)).Decode(out); err != nil {
		// A garbled answer is the service misbehaving: retry like a 5xx.
		return fmt.Errorf("%s answer is not valid JSON", c.o.Service)
	}
	return nil
}
