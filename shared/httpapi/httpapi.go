// Package httpapi is the one place where API Gateway HTTP API (payload 2.0)
// events become requests and where results and errors become responses:
// strict JSON decoding (API.md "Conventions"), the X-Request-Id header, the
// error body, the code-to-status table via apperr, and panic recovery.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/logging"
)

// MaxBodyBytes is the largest request body accepted (API.md: 64 KiB).
const MaxBodyBytes = 64 << 10

// Request is what an endpoint sees of an API Gateway event.
type Request struct {
	Event     events.APIGatewayV2HTTPRequest
	RequestID string
	SourceIP  string
}

// PathParam returns a path parameter.
func (r *Request) PathParam(name string) string { return r.Event.PathParameters[name] }

// Header returns a header by case-insensitive name.
func (r *Request) Header(name string) string {
	if v, ok := r.Event.Headers[strings.ToLower(name)]; ok {
		return v
	}
	for k, v := range r.Event.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Response is an endpoint's successful answer.
type Response struct {
	Status  int
	Body    any
	Headers map[string]string
	// Raw, when set, is the body as is (Body is then ignored), of the
	// Content-Type in ContentType: a file (CSV, PNG) rather than JSON.
	Raw         []byte
	ContentType string
}

// JSON returns a response with a JSON body.
func JSON(status int, body any) *Response { return &Response{Status: status, Body: body} }

// File returns a response whose body is b as is, of contentType.
func File(status int, contentType string, b []byte) *Response {
	return &Response{Status: status, Raw: b, ContentType: contentType}
}

// Endpoint serves one route. It returns a response or an error; errors that
// are not *apperr.Error become 500 "Internal error.".
type Endpoint func(ctx context.Context, req *Request) (*Response, error)

// LambdaHandler is the signature the Lambda runtime invokes for HTTP APIs.
type LambdaHandler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Routes maps an API Gateway route key ("POST /v1/verifications") to its
// endpoint, for functions that serve more than one route.
type Routes map[string]Endpoint

// Handler turns routes into a Lambda handler. It never returns an error to
// the runtime: every outcome, a panic included, is an HTTP response.
func Handler(log *slog.Logger, routes Routes) LambdaHandler {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, _ error) {
		req := &Request{Event: ev, RequestID: ev.RequestContext.RequestID, SourceIP: ev.RequestContext.HTTP.SourceIP}
		if req.RequestID == "" {
			req.RequestID = newRequestID()
		}
		ctx = logging.WithRequestID(ctx, req.RequestID)
		start := time.Now()
		// The answer's error code and limit, when it is one: the "request"
		// line carries them, and the template's metric filters count the
		// refusals by them (the surge dashboard). Neither names a person.
		var refused *apperr.Error
		defer func() {
			if p := recover(); p != nil {
				log.ErrorContext(ctx, "panic in handler", "route", ev.RouteKey, "panic", fmt.Sprint(p))
				refused = apperr.New(apperr.Internal, "Internal error.")
				resp = errorResponse(req.RequestID, refused)
			}
			attrs := []any{"route", ev.RouteKey, "status", resp.StatusCode, "ms", time.Since(start).Milliseconds()}
			if refused != nil {
				attrs = append(attrs, "code", string(refused.Code))
				if refused.Limit != "" {
					attrs = append(attrs, "limit", string(refused.Limit))
				}
			}
			log.InfoContext(ctx, "request", attrs...)
		}()
		ep, ok := routes[ev.RouteKey]
		if !ok {
			refused = apperr.New(apperr.NotFound, "No such route.")
			return errorResponse(req.RequestID, refused), nil
		}
		out, err := ep(ctx, req)
		if err != nil {
			e := apperr.As(err)
			if e.Code == apperr.Internal && transient(err) {
				// A dependency that timed out or could not be reached: a
				// retry may well work, so say so instead of 500.
				log.WarnContext(ctx, "dependency unavailable", "route", ev.RouteKey, "err", err.Error())
				e = apperr.New(apperr.Overloaded, "The service is busy. Please try again shortly.").WithRetryAfter(time.Second)
			} else if e.Code == apperr.Internal {
				// The cause is for us; the client gets "Internal error." only.
				log.ErrorContext(ctx, "internal error", "route", ev.RouteKey, "err", err.Error())
				e = apperr.New(apperr.Internal, "Internal error.")
			} else if e.Err != nil {
				log.WarnContext(ctx, "request refused", "route", ev.RouteKey, "code", string(e.Code), "err", e.Err.Error())
			}
			refused = e
			return errorResponse(req.RequestID, e), nil
		}
		return render(req.RequestID, out), nil
	}
}

// transient is an error a retry may not meet: a deadline passed or a
// dependency's connection failed (the AWS SDK wraps the net.Error, and
// gives up with it after its own retries).
func transient(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

func render(requestID string, out *Response) events.APIGatewayV2HTTPResponse {
	headers := baseHeaders(requestID)
	for k, v := range out.Headers {
		headers[k] = v
	}
	if out.Raw != nil {
		// Base64 for every file: API Gateway then hands the bytes over
		// untouched, text or not.
		headers["Content-Type"] = out.ContentType
		return events.APIGatewayV2HTTPResponse{StatusCode: out.Status, Headers: headers,
			Body: base64.StdEncoding.EncodeToString(out.Raw), IsBase64Encoded: true}
	}
	body := ""
	if out.Body != nil {
		b, err := json.Marshal(out.Body)
		if err != nil {
			return errorResponse(requestID, apperr.New(apperr.Internal, "Internal error."))
		}
		body = string(b)
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: out.Status, Headers: headers, Body: body}
}

type errorBody struct {
	Error     map[string]any `json:"error"`
	RequestID string         `json:"requestId"`
}

func errorResponse(requestID string, e *apperr.Error) events.APIGatewayV2HTTPResponse {
	obj := map[string]any{}
	for k, v := range e.Details {
		obj[k] = v
	}
	obj["code"] = string(e.Code)
	obj["message"] = e.Message
	if len(e.Fields) > 0 {
		obj["fields"] = e.Fields
	}
	if e.Limit != "" {
		obj["limit"] = string(e.Limit)
	}
	b, _ := json.Marshal(errorBody{Error: obj, RequestID: requestID})
	headers := baseHeaders(requestID)
	if e.RetryAfter > 0 {
		secs := int((e.RetryAfter + time.Second - 1) / time.Second)
		headers["Retry-After"] = strconv.Itoa(secs)
	}
	return events.APIGatewayV2HTTPResponse{StatusCode: apperr.Status(e.Code), Headers: headers, Body: string(b)}
}

func baseHeaders(requestID string) map[string]string {
	return map[string]string{
		"Content-Type":  "application/json; charset=utf-8",
		"Cache-Control": "no-store",
		"X-Request-Id":  requestID,
	}
}

// Body returns the raw request body, base64-decoded when API Gateway encoded
// it, refusing bodies over MaxBodyBytes.
func Body(req *Request) ([]byte, error) {
	raw := req.Event.Body
	if len(raw) > base64.StdEncoding.EncodedLen(MaxBodyBytes)+4 {
		return nil, tooLarge()
	}
	var b []byte
	if req.Event.IsBase64Encoded {
		var err error
		b, err = base64.StdEncoding.DecodeString(raw)
		if err != nil {
			return nil, apperr.InvalidField("body", "is not valid base64")
		}
	} else {
		b = []byte(raw)
	}
	if len(b) > MaxBodyBytes {
		return nil, tooLarge()
	}
	return b, nil
}

func tooLarge() error {
	return apperr.InvalidField("body", fmt.Sprintf("must be at most %d bytes", MaxBodyBytes))
}

// DecodeJSON decodes the body into dst strictly: JSON content type (or none),
// a single JSON object, no unknown fields, no key twice in one object, field
// names exactly as documented (encoding/json alone would match any case),
// no trailing data. Every failure is a 400 naming the field at fault
// ("body" when no field can be named).
func DecodeJSON(req *Request, dst any) error {
	if ct := req.Header("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return apperr.InvalidField("Content-Type", "must be application/json")
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return apperr.InvalidField("Content-Type", "charset must be utf-8")
		}
	}
	b, err := Body(req)
	if err != nil {
		return err
	}
	trimmed := strings.TrimLeft(string(b), " \t\r\n")
	if trimmed == "" {
		return apperr.InvalidField("body", "must be a JSON object")
	}
	if trimmed[0] != '{' {
		return apperr.InvalidField("body", "must be a JSON object")
	}
	if err := checkKeys(trimmed, dst); err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.InvalidField("body", "must hold exactly one JSON object")
	}
	return nil
}

func decodeError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			field = "body"
		}
		return apperr.InvalidField(field, "must be a "+jsonKind(typeErr.Type.Kind().String()))
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		field := strings.Trim(name, `"`)
		if field == "" {
			// {"": …}: no name to give back; the body is at fault.
			field = "body"
		}
		return apperr.InvalidField(field, "is not a known field")
	}
	return apperr.InvalidField("body", "is not valid JSON")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "list"
	case "map", "struct":
		return "object"
	default:
		return "number"
	}
}

// newRequestID names a request that arrived without one (API Gateway always
// sends one; direct invocations may not).
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
