// Package carrier is the adapter to the mobile carriers' identity service
// (PASS-style subscriber check) that says whether a phone number is
// subscribed by a given person, before an SMS code is sent to it (API.md,
// identity verification step 2). Like shared/bureau it owns the wire
// protocol, which the local simulator (infra/sim) speaks too, and a client
// that fails fast: a per-attempt timeout, bounded jittered retries, an
// overall deadline and a circuit breaker, so a dead carrier gateway costs a
// caller milliseconds and a Retry-After instead of a hang.
//
// Protocol: POST {base}/v1/subscriber with SubscriberRequest as JSON; 200
// with SubscriberResponse. 5xx and transport failures are worth retrying;
// 4xx mean our request is wrong and are not.
package carrier

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
	"github.com/pccc/pccc/shared/otp"
	"github.com/pccc/pccc/shared/resilience"
)

// SubscriberPath is the subscriber-check route, under the base URL.
const SubscriberPath = "/v1/subscriber"

// SubscriberRequest is the body of POST {base}/v1/subscriber.
type SubscriberRequest struct {
	Carrier   string `json:"carrier"`   // one of otp.Carriers
	Phone     string `json:"phone"`     // digits, 01012345678
	Name      string `json:"name"`      // identity.NameKey form
	BirthDate string `json:"birthDate"` // YYYYMMDD
	Sex       string `json:"sex"`       // M or F
}

// SubscriberResponse is the carrier's answer. An unknown phone is a plain
// mismatch, as it is to our own callers.
type SubscriberResponse struct {
	Match bool `json:"match"`
}

// ErrUnavailable is wrapped by every error that means "the carrier cannot
// answer now"; such errors are *identity.UnavailableError carrying a
// Retry-After.
var ErrUnavailable = errors.New("carrier unavailable")

// Backoff between attempts: full jitter under these bounds.
const (
	backoffBase = 50 * time.Millisecond
	backoffMax  = 250 * time.Millisecond
	// retryAfterTransient is the hint when the carrier failed but the
	// breaker is still closed: a blip, worth another try soon.
	retryAfterTransient = 2 * time.Second
	maxAnswerBytes      = 64 << 10
)

// Options configure a Client.
type Options struct {
	BaseURL  string              // e.g. https://carrier.example/api, without /v1/subscriber
	HTTP     *http.Client        // nil: a client on http.DefaultTransport
	Timeout  time.Duration       // per attempt; default 2s
	Attempts int                 // default 2
	Breaker  *resilience.Breaker // nil: opens after 5 failed checks for 10s
}

// Client calls the carrier gateway over HTTP. It implements
// otp.SubscriberChecker and is safe for concurrent use.
type Client struct {
	url      string
	http     *http.Client
	timeout  time.Duration
	attempts int
	breaker  *resilience.Breaker
}

var _ otp.SubscriberChecker = (*Client)(nil)

// New builds a client.
func New(o Options) (*Client, error) {
	if !strings.HasPrefix(o.BaseURL, "http://") && !strings.HasPrefix(o.BaseURL, "https://") {
		return nil, errors.New("carrier: base URL must be http(s)")
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
	return &Client{
		url: strings.TrimRight(o.BaseURL, "/") + SubscriberPath, http: o.HTTP,
		timeout: o.Timeout, attempts: o.Attempts, breaker: o.Breaker,
	}, nil
}

// MaxDuration is the longest a CheckSubscriber call can take: every attempt
// timing out plus the largest backoffs between them.
func (c *Client) MaxDuration() time.Duration {
	return time.Duration(c.attempts)*c.timeout + time.Duration(c.attempts-1)*backoffMax
}

// statusError is a non-200 answer.
type statusError int

func (e statusError) Error() string { return fmt.Sprintf("carrier answered HTTP %d", int(e)) }

// CheckSubscriber asks whether s.Phone is subscribed with s.Carrier by the
// person s describes. s must be in canonical form (see otp.Subscriber).
func (c *Client) CheckSubscriber(ctx context.Context, s otp.Subscriber) (bool, error) {
	if ok, wait := c.breaker.Allow(); !ok {
		return false, &identity.UnavailableError{RetryAfter: wait, Err: fmt.Errorf("%w: circuit open", ErrUnavailable)}
	}
	body, err := json.Marshal(SubscriberRequest{
		Carrier: s.Carrier, Phone: s.Phone, Name: s.Name, BirthDate: s.BirthDate, Sex: s.Sex,
	})
	if err != nil {
		return false, fmt.Errorf("carrier request: %w", err)
	}
	// The whole call, retries included, is bounded, whatever the caller's
	// context allows.
	ctx, cancel := context.WithTimeout(ctx, c.MaxDuration()+50*time.Millisecond)
	defer cancel()
	var match bool
	err = resilience.Retry(ctx, c.attempts, backoffBase, backoffMax, func(ctx context.Context) (bool, error) {
		m, err := c.once(ctx, body)
		if err != nil {
			var st statusError
			return !errors.As(err, &st) || int(st) >= 500, err
		}
		match = m
		return false, nil
	})
	var st statusError
	if errors.As(err, &st) && int(st) < 500 {
		// The carrier is up and refused our request: a bug on our side, not
		// an outage, so it neither opens the breaker nor asks the caller to
		// retry.
		c.breaker.Record(true)
		return false, err
	}
	c.breaker.Record(err == nil)
	if err != nil {
		wait := c.breaker.RetryAfter()
		if wait <= 0 {
			wait = retryAfterTransient
		}
		return false, &identity.UnavailableError{RetryAfter: wait, Err: fmt.Errorf("%w: %w", ErrUnavailable, err)}
	}
	return match, nil
}

// once makes one attempt. Error texts carry the URL and status only, never
// the request body.
func (c *Client) once(ctx context.Context, body []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return false, fmt.Errorf("carrier request: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
		return false, statusError(resp.StatusCode)
	}
	var out SubscriberResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswerBytes)).Decode(&out); err != nil {
		// A garbled answer is the carrier misbehaving: retry like a 5xx.
		return false, errors.New("carrier answer is not valid JSON")
	}
	return out.Match, nil
}
