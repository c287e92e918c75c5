package session

import (
	"context"
	"strings"

	"github.com/pccc/pccc/shared/httpapi"
)

// HolderEndpoint is an endpoint that runs only for a verified holder. The
// claims come as an argument rather than through the context so an endpoint
// cannot forget to look for them.
type HolderEndpoint func(ctx context.Context, req *httpapi.Request, c Claims) (*httpapi.Response, error)

// RequireHolder wraps next so it runs only with a valid
// `Authorization: Bearer <token>` header; anything else is 401
// UNAUTHENTICATED with the one safe message.
func RequireHolder(iss *Issuer, next HolderEndpoint) httpapi.Endpoint {
	return func(ctx context.Context, req *httpapi.Request) (*httpapi.Response, error) {
		token, err := bearer(req.Header("Authorization"))
		if err != nil {
			return nil, err
		}
		c, err := iss.Verify(token)
		if err != nil {
			return nil, err
		}
		return next(ctx, req, c)
	}
}

// bearer extracts the token from an Authorization value. The scheme is
// case-insensitive (RFC 9110 §11.1); the token itself may hold no spaces.
func bearer(h string) (string, error) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if h == "" {
		return "", unauthenticated(errMissing)
	}
	token = strings.TrimLeft(token, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.ContainsAny(token, " \t") {
		return "", unauthenticated(errMalformed)
	}
	return token, nil
}
