package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/apperr"
)

// OriginHeader is the header the CloudFront distribution adds to every
// request it sends to the API (template.yaml: OriginHeaderFunction sets it
// on every /v1 request from the edge's key value store, replacing a
// viewer's header of the same name), with one of the origin ring's values
// (shared/keyring), so only the distribution can send a right value.
const OriginHeader = "X-Pccc-Origin"

// MinOriginSecret is the shortest origin secret accepted: a guess must be
// as hard as a 256-bit key's.
const MinOriginSecret = 32

// RequireOrigin answers only requests that came through the distribution:
// those carrying OriginHeader with one of the secrets (more than one while
// the secret is rotated: the old one until the distribution sends the new).
// Anything else (the API's execute-api URL called directly, round the WAF)
// gets 403 FORBIDDEN without reaching the endpoint. The comparison takes
// the same time whatever the value sent: both sides are hashed to a fixed
// length first and every secret is compared, so neither the bytes nor the
// length of a secret leak through timing. With no secret nothing passes.
func RequireOrigin(log *slog.Logger, h LambdaHandler, secrets ...string) LambdaHandler {
	return RequireOriginRefreshing(log, h, secrets, nil)
}

// RequireOriginRefreshing is RequireOrigin whose accepted values can
// change without a restart: on a value it does not accept it asks refresh
// for the values again (refresh fetches at most every so often and says
// whether it fetched anything), so a value the operator has just rotated
// in is accepted at once. A nil refresh never changes the values.
func RequireOriginRefreshing(log *slog.Logger, h LambdaHandler, secrets []string, refresh func() ([]string, bool)) LambdaHandler {
	var accepted atomic.Pointer[[][sha256.Size]byte]
	set := func(secrets []string) {
		wants := make([][sha256.Size]byte, 0, len(secrets))
		for _, s := range secrets {
			if s != "" {
				wants = append(wants, sha256.Sum256([]byte(s)))
			}
		}
		accepted.Store(&wants)
	}
	set(secrets)
	match := func(got [sha256.Size]byte) bool {
		ok := 0
		for _, want := range *accepted.Load() {
			ok |= subtle.ConstantTimeCompare(got[:], want[:])
		}
		return ok == 1
	}
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		req := Request{Event: ev}
		got := sha256.Sum256([]byte(req.Header(OriginHeader)))
		if match(got) {
			return h(ctx, ev)
		}
		if refresh != nil && req.Header(OriginHeader) != "" {
			if fresh, ok := refresh(); ok && len(fresh) > 0 {
				set(fresh)
				if match(got) {
					return h(ctx, ev)
				}
			}
		}
		requestID := ev.RequestContext.RequestID
		if requestID == "" {
			requestID = newRequestID()
		}
		// No header value in the log: a near miss is still a secret.
		log.WarnContext(ctx, "request not from the distribution", "route", ev.RouteKey, "requestId", requestID)
		return errorResponse(requestID, apperr.New(apperr.Forbidden,
			"This API answers only through the site's address (its CloudFront distribution).")), nil
	}
}
