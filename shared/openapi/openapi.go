// Package openapi owns the API's own description: openapi.json, an OpenAPI
// 3.1 document of every public route template.yaml deploys, and the
// function that serves it at GET /v1/openapi.json.
//
// The document is written by hand, next to this file, and built into the
// binary, so the deployed function answers exactly what was reviewed and
// linted. Its tests hold it to template.yaml (the same routes, both ways),
// to the Go request and response types, to the enumerations the validators
// accept and to apperr's code-to-status table; `make lint-api` runs an
// OpenAPI linter on it.
package openapi

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/platform"
)

// Route is the document's route key, as template.yaml declares it.
const Route = "GET /v1/openapi.json"

// CacheControl lets browsers and shared caches keep the document for a few
// minutes: it changes only with a deploy, and tools fetch it often.
const CacheControl = "public, max-age=300"

//go:embed openapi.json
var document []byte

// Document returns a copy of the document as stored in the repository.
func Document() []byte { return bytes.Clone(document) }

// Serve returns the endpoint that answers doc. The document is checked and
// compacted once, here, so a broken one fails the cold start rather than
// each request.
func Serve(doc []byte) (httpapi.Endpoint, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, doc); err != nil {
		return nil, fmt.Errorf("openapi: the document is not JSON: %w", err)
	}
	body := json.RawMessage(compact.Bytes())
	return func(context.Context, *httpapi.Request) (*httpapi.Response, error) {
		return &httpapi.Response{Status: http.StatusOK, Body: body, Headers: map[string]string{"Cache-Control": CacheControl}}, nil
	}, nil
}

// Build builds the function behind GET /v1/openapi.json. It reads nothing
// but the embedded document, so it needs no client and no table.
func Build(_ context.Context, d platform.Deps) (any, error) {
	if d.Log == nil {
		return nil, errors.New("openapi: no logger")
	}
	ep, err := Serve(document)
	if err != nil {
		return nil, err
	}
	return httpapi.Handler(d.Log, httpapi.Routes{Route: ep}), nil
}
