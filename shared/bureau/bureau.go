// Package bureau is the adapter to the credit bureau (NICE / KCB) that says
// whether a name belongs to a registration number. It owns the wire
// protocol, which the local simulator (infra/sim) speaks too, and a client
// that fails fast: a per-attempt timeout, bounded jittered retries, an
// overall deadline, and a circuit breaker, so a dead bureau costs a caller
// milliseconds and a Retry-After instead of a hang (DOMAIN.md, the surge).
//
// Protocol: POST {base}/v1/realname with RealNameRequest as JSON; 200 with
// RealNameResponse. 5xx and transport failures are worth retrying; 4xx mean
// our request is wrong and are not.
package bureau

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/pccc/pccc/shared/gateway"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/resilience"
)

// RealNamePath is the bureau's real-name route, under its base URL.
const RealNamePath = "/v1/realname"

// RealNameRequest is the body of POST {base}/v1/realname.
type RealNameRequest struct {
	Name string `json:"name"` // identity.NameKey form: capitals, no spaces
	RRN  string `json:"rrn"`  // 13 digits, no dash
}

// RealNameResponse is the bureau's answer.
type RealNameResponse struct {
	Match bool `json:"match"`
}

// ErrUnavailable is wrapped by every error that means "the bureau cannot
// answer now"; such errors are *identity.UnavailableError carrying a
// Retry-After.
var ErrUnavailable = errors.New("bureau unavailable")

// Options configure a Client.
type Options struct {
	BaseURL  string              // e.g. https://bureau.example/api, without /v1/realname
	HTTP     *http.Client        // nil: a client on http.DefaultTransport
	Timeout  time.Duration       // per attempt; default 2s
	Attempts int                 // default 2
	Breaker  *resilience.Breaker // nil: opens after 5 failed checks for 10s
}

// Client calls the bureau over HTTP. It implements identity.Bureau.
type Client struct{ gw *gateway.Client }

var _ identity.Bureau = (*Client)(nil)

// New builds a client.
func New(o Options) (*Client, error) {
	gw, err := gateway.New(gateway.Options{
		Service: "bureau", URL: strings.TrimRight(o.BaseURL, "/") + RealNamePath,
		HTTP: o.HTTP, Timeout: o.Timeout, Attempts: o.Attempts, Breaker: o.Breaker, Unavailable: ErrUnavailable,
	})
	if err != nil {
		return nil, err
	}
	return &Client{gw: gw}, nil
}

// MaxDuration is the longest one call can take, retries included.
func (c *Client) MaxDuration() time.Duration { return c.gw.MaxDuration() }

// Match asks whether name (identity.NameKey form) belongs to rrn.
func (c *Client) Match(ctx context.Context, name string, rrn identity.RRN) (bool, error) {
	var out RealNameResponse
	if err := c.gw.Post(ctx, RealNameRequest{Name: name, RRN: rrn.Digits()}, &out); err != nil {
		return false, err
	}
	return out.Match, nil
}
