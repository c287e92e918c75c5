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
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pccc/pccc/shared/gateway"
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
type Client struct{ gw *gateway.Client }

var _ otp.SubscriberChecker = (*Client)(nil)

// New builds a client.
func New(o Options) (*Client, error) {
	gw, err := gateway.New(gateway.Options{
		Service: "carrier", URL: strings.TrimRight(o.BaseURL, "/") + SubscriberPath,
		HTTP: o.HTTP, Timeout: o.Timeout, Attempts: o.Attempts, Breaker: o.Breaker, Unavailable: ErrUnavailable,
	})
	if err != nil {
		return nil, err
	}
	return &Client{gw: gw}, nil
}

// MaxDuration is the longest one call can take, retries included.
func (c *Client) MaxDuration() time.Duration { return c.gw.MaxDuration() }

// CheckSubscriber asks whether s.Phone is subscribed with s.Carrier by the
// person s describes. s must be in canonical form (see otp.Subscriber).
func (c *Client) CheckSubscriber(ctx context.Context, s otp.Subscriber) (bool, error) {
	var out SubscriberResponse
	if err := c.gw.Post(ctx, SubscriberRequest{Carrier: s.Carrier, Phone: s.Phone, Name: s.Name, BirthDate: s.BirthDate, Sex: s.Sex}, &out); err != nil {
		return false, err
	}
	return out.Match, nil
}
