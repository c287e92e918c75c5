package localrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/samtemplate"
)

// MaxBodyBytes is the largest request body the runner passes on. API
// Gateway's own limit is 10 MB; the handlers refuse more than 64 KiB
// themselves, and 1 MiB is plenty to let them do so.
const MaxBodyBytes = 1 << 20

// route is a template route ready to match requests.
type route struct {
	samtemplate.Route
	fn       *function
	segments []string // "/v1/a/{id}" -> ["v1", "a", "{id}"]
	greedy   bool     // last segment is {name+}
	literals int      // segments without a variable, for precedence
}

func (r *Runner) buildRoutes() error {
	for _, f := range r.tpl.Functions {
		for _, rt := range f.Routes {
			x := &route{Route: rt, fn: r.functions[f.LogicalID]}
			if rt.Path != "$default" {
				x.segments = strings.Split(strings.Trim(rt.Path, "/"), "/")
				for i, s := range x.segments {
					switch {
					case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "+}"):
						if i != len(x.segments)-1 {
							return fmt.Errorf("route %s: a greedy variable must be the last segment", rt.RouteKey())
						}
						x.greedy = true
					case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
					default:
						x.literals++
					}
				}
			}
			r.routes = append(r.routes, x)
		}
	}
	for _, api := range r.tpl.HTTPAPIs {
		if api.Cors == nil {
			continue
		}
		c, err := r.corsPolicy(api.Cors)
		if err != nil {
			return fmt.Errorf("%s CorsConfiguration: %w", api.LogicalID, err)
		}
		r.cors[api.LogicalID] = c
	}
	return nil
}

// match finds the route for a request the way API Gateway picks one: the
// most specific path wins (more literal segments, then non-greedy), a
// route for the method beats ANY, and $default catches the rest. params
// are the path variables.
func (r *Runner) match(method, path string) (best *route, params map[string]string) {
	// Only the leading slash goes: "/a/" is not "/a", as in API Gateway,
	// and a greedy variable keeps the trailing slash.
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	score := func(x *route) int {
		s := x.literals * 4
		if !x.greedy {
			s += 2
		}
		if x.Method != "ANY" {
			s++
		}
		return s
	}
	var fallback *route
	for _, x := range r.routes {
		if x.Method != "ANY" && x.Method != method {
			continue
		}
		if x.Path == "$default" {
			fallback = x
			continue
		}
		// Only the best route's variables are read out: a request is
		// held against every route of its method.
		if _, ok := x.walk(parts, false); !ok {
			continue
		}
		if best == nil || score(x) > score(best) {
			best = x
		}
	}
	if best == nil {
		if fallback != nil {
			return fallback, nil
		}
		return nil, nil
	}
	params, _ = best.matchPath(parts)
	return best, params
}

func (x *route) matchPath(parts []string) (map[string]string, bool) {
	return x.walk(parts, true)
}

// allEmpty says every part is "".
func allEmpty(parts []string) bool {
	for _, p := range parts {
		if p != "" {
			return false
		}
	}
	return true
}

// walk matches parts against the route's segments, and with vars reads
// out the path variables.
func (x *route) walk(parts []string, vars bool) (map[string]string, bool) {
	var params map[string]string
	if vars {
		params = map[string]string{}
	}
	for i, seg := range x.segments {
		if x.greedy && i == len(x.segments)-1 {
			if i >= len(parts) || allEmpty(parts[i:]) {
				return nil, false // {proxy+} needs at least one segment
			}
			if vars {
				params[strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "+}")] = strings.Join(parts[i:], "/")
			}
			return params, true
		}
		if i >= len(parts) {
			return nil, false
		}
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			if parts[i] == "" {
				return nil, false
			}
			if vars {
				params[seg[1:len(seg)-1]] = parts[i]
			}
			continue
		}
		if seg != parts[i] {
			return nil, false
		}
	}
	if len(parts) != len(x.segments) {
		return nil, false
	}
	return params, true
}

// serveAPI is API Gateway: match, build the payload-2.0 event, invoke,
// translate the function's answer back to HTTP.
func (r *Runner) serveAPI(w http.ResponseWriter, req *http.Request) {
	requestID := newAPIRequestID()
	w.Header().Set("Apigw-Requestid", requestID)

	rt, params := r.match(req.Method, req.URL.Path)
	cors := r.corsFor(rt, req.URL.Path)
	if cors != nil && cors.preflight(w, req) {
		return
	}
	if cors != nil {
		cors.decorate(w, req)
	}
	if rt == nil {
		// The API.md error shape, so clients handle it like any other 404.
		w.Header().Set("X-Request-Id", requestID)
		writeJSON(w, http.StatusNotFound, map[string]any{
			"error":     map[string]string{"code": "NOT_FOUND", "message": "No route matches this method and path."},
			"requestId": requestID,
		})
		return
	}

	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Bad Request"})
		return
	}
	if len(body) > MaxBodyBytes {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"message": "Request Entity Too Large"})
		return
	}
	ev := r.apiEvent(req, rt, params, body, requestID)
	payload, err := json.Marshal(ev)
	if err != nil {
		r.internalError(w, rt, requestID, err)
		return
	}
	// Lambda runs the invocation to its end even when the client goes away.
	out, err := rt.fn.invoke(context.WithoutCancel(req.Context()), payload)
	if err != nil {
		r.internalError(w, rt, requestID, err)
		return
	}
	if err := writeAPIResponse(w, out, cors != nil); err != nil {
		r.internalError(w, rt, requestID, err)
	}
}

// APIEvent is the function a viewer's request reaches through the
// distribution and API Gateway and the payload-2.0 event it is invoked
// with, as serveAPI would build them, without invoking it: with Invoke,
// how make bench calls a function the way the Lambda runtime does,
// without the stand-ins' own work.
func (r *Runner) APIEvent(req *http.Request) (function string, payload []byte, err error) {
	if r.edge != nil {
		b := r.edge.behavior(req.URL.Path)
		if !b.api {
			return "", nil, fmt.Errorf("%s is not a path of the API", req.URL.Path)
		}
		r.toOrigin(b, req)
	}
	rt, params := r.match(req.Method, req.URL.Path)
	if rt == nil {
		return "", nil, fmt.Errorf("no route matches %s %s", req.Method, req.URL.Path)
	}
	var body []byte
	if req.Body != nil {
		if body, err = io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1)); err != nil {
			return "", nil, err
		}
	}
	payload, err = json.Marshal(r.apiEvent(req, rt, params, body, newAPIRequestID()))
	return rt.fn.id, payload, err
}

// Invoke invokes a function by its logical id with a payload, as the
// Lambda runtime would (the function's timeout, a Lambda context).
func (r *Runner) Invoke(ctx context.Context, function string, payload []byte) ([]byte, error) {
	fn, ok := r.functions[function]
	if !ok {
		return nil, fmt.Errorf("no function %s", function)
	}
	return fn.invoke(ctx, payload)
}

// internalError answers like API Gateway when the integration fails, and
// logs why for the developer.
func (r *Runner) internalError(w http.ResponseWriter, rt *route, requestID string, err error) {
	attrs := []any{"function", rt.fn.id, "route", rt.RouteKey(), "apiRequestId", requestID, "err", err.Error()}
	if p, ok := err.(*panicError); ok {
		attrs = append(attrs, "stack", string(p.stack))
	}
	r.log.Error("invocation failed", attrs...)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
}

// apiEvent builds the payload-2.0 event API Gateway would send.
func (r *Runner) apiEvent(req *http.Request, rt *route, params map[string]string, body []byte, requestID string) events.APIGatewayV2HTTPRequest {
	now := r.now().UTC()
	sourceIP, _, err := net.SplitHostPort(req.RemoteAddr)
	if err != nil {
		sourceIP = req.RemoteAddr
	}
	headers := map[string]string{}
	var cookies []string
	for k, vs := range req.Header {
		lk := strings.ToLower(k)
		if lk == "cookie" {
			// API Gateway moves cookies out of the headers.
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[lk] = strings.Join(vs, ",")
	}
	headers["host"] = req.Host
	if len(body) > 0 {
		headers["content-length"] = strconv.Itoa(len(body))
	}
	if prev := headers["x-forwarded-for"]; prev != "" {
		headers["x-forwarded-for"] = prev + ", " + sourceIP
	} else {
		headers["x-forwarded-for"] = sourceIP
	}
	headers["x-forwarded-proto"] = "http"
	if _, port, err := net.SplitHostPort(r.ln.Addr().String()); err == nil {
		headers["x-forwarded-port"] = port
	}
	headers["x-amzn-trace-id"] = "Root=1-" + strconv.FormatInt(now.Unix(), 16) + "-" + newID(12)

	var query map[string]string
	if vals, err := url.ParseQuery(req.URL.RawQuery); err == nil && len(vals) > 0 {
		query = map[string]string{}
		for k, vs := range vals {
			query[k] = strings.Join(vs, ",")
		}
	}
	if len(params) == 0 {
		params = nil
	}
	apiID := "local"
	if rt.API != "" {
		apiID = strings.ToLower(rt.API)
	}
	domainPrefix, _, _ := strings.Cut(req.Host, ".")
	if h, _, err := net.SplitHostPort(domainPrefix); err == nil {
		domainPrefix = h
	}
	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              rt.RouteKey(),
		RawPath:               req.URL.EscapedPath(),
		RawQueryString:        req.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: query,
		PathParameters:        params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     rt.RouteKey(),
			AccountID:    localstack.AccountID,
			Stage:        "$default",
			RequestID:    requestID,
			APIID:        apiID,
			DomainName:   req.Host,
			DomainPrefix: domainPrefix,
			Time:         now.Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    req.Method,
				Path:      req.URL.Path,
				Protocol:  req.Proto,
				SourceIP:  sourceIP,
				UserAgent: req.UserAgent(),
			},
		},
	}
	if len(body) > 0 {
		if isText(req.Header.Get("Content-Type"), body) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// isText reports whether API Gateway would pass the body as text: valid
// UTF-8 of a textual media type (or of none given).
func isText(contentType string, body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "/json"), strings.HasSuffix(mt, "+json"),
		strings.HasSuffix(mt, "/xml"), strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript", mt == "application/x-www-form-urlencoded",
		mt == "application/graphql", mt == "application/yaml", mt == "application/x-yaml":
		return true
	}
	return false
}

// apiResponse is the payload-2.0 response format. Fields are raw so that
// a malformed answer can be told from a missing field.
type apiResponse struct {
	StatusCode      *int              `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	Cookies         []string          `json:"cookies"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}

// writeAPIResponse turns what the function returned into HTTP. Like API
// Gateway, a JSON answer without statusCode is taken as the body of a 200,
// and with a CORS configuration the function's own CORS headers are
// ignored.
func writeAPIResponse(w http.ResponseWriter, out []byte, apiCORS bool) error {
	trimmed := bytes.TrimSpace(out)
	resp, err := decodeAPIResponse(trimmed)
	if err != nil {
		return err
	}
	if resp == nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, err := w.Write(trimmed)
		return err
	}
	status := *resp.StatusCode
	if status < 100 || status > 599 {
		return fmt.Errorf("function returned status %d", status)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return fmt.Errorf("function body is not base64: %w", err)
		}
		body = b
	}
	keys := make([]string, 0, len(resp.Headers))
	for k := range resp.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if apiCORS && strings.HasPrefix(strings.ToLower(k), "access-control-") {
			continue
		}
		w.Header().Set(k, resp.Headers[k])
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	if w.Header().Get("Content-Type") == "" {
		// Stop net/http from sniffing a type API Gateway would not add.
		w.Header()["Content-Type"] = nil
	}
	w.WriteHeader(status)
	_, err = w.Write(body)
	return err
}

// decodeAPIResponse reads a function's answer: nil for one taken as the
// body of a 200 (no JSON object with statusCode), an error for no JSON or
// a malformed response.
func decodeAPIResponse(trimmed []byte) (*apiResponse, error) {
	// What aws-lambda-go writes for an events.APIGatewayV2HTTPResponse
	// begins so: one decode is enough. An object whose first key is
	// statusCode is what the probe below takes for a response, and the
	// decode below is the one it makes, so the answer is the same.
	var resp apiResponse
	if bytes.HasPrefix(trimmed, []byte(`{"statusCode":`)) && json.Unmarshal(trimmed, &resp) == nil && resp.StatusCode != nil {
		return &resp, nil
	}
	var probe map[string]json.RawMessage
	if json.Unmarshal(trimmed, &probe) != nil || probe["statusCode"] == nil {
		if !json.Valid(trimmed) {
			return nil, fmt.Errorf("function returned no JSON")
		}
		return nil, nil
	}
	resp = apiResponse{}
	if err := json.Unmarshal(trimmed, &resp); err != nil {
		return nil, fmt.Errorf("malformed function response: %w", err)
	}
	return &resp, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newAPIRequestID imitates API Gateway's request ids ("JxYz1hKbIE0EJ8w=").
func newAPIRequestID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// corsPolicy is an HttpApi's CorsConfiguration with references resolved.
type corsPolicy struct {
	origins, methods, headers, expose []string
	maxAge                            string
	credentials                       bool
}

func (r *Runner) corsPolicy(c *samtemplate.Cors) (*corsPolicy, error) {
	p := &corsPolicy{}
	var err error
	for _, f := range []struct {
		dst *[]string
		v   samtemplate.Value
	}{{&p.origins, c.AllowOrigins}, {&p.methods, c.AllowMethods}, {&p.headers, c.AllowHeaders}, {&p.expose, c.ExposeHeaders}} {
		if *f.dst, err = f.v.ResolveList(r.resolve); err != nil {
			return nil, err
		}
	}
	if !c.MaxAge.IsZero() {
		if p.maxAge, err = c.MaxAge.Resolve(r.resolve); err != nil {
			return nil, err
		}
	}
	if !c.AllowCredentials.IsZero() {
		s, err := c.AllowCredentials.Resolve(r.resolve)
		if err != nil {
			return nil, err
		}
		p.credentials = s == "true"
	}
	return p, nil
}

// corsFor picks the CORS policy of the API a request belongs to: the
// matched route's, else that of any API serving the path (a preflight
// OPTIONS has no route of its own), else the only API's.
func (r *Runner) corsFor(rt *route, path string) *corsPolicy {
	if rt != nil {
		return r.cors[rt.API]
	}
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, x := range r.routes {
		if _, ok := x.walk(parts, false); ok {
			return r.cors[x.API]
		}
	}
	if len(r.cors) == 1 {
		for _, c := range r.cors {
			return c
		}
	}
	return nil
}

func (p *corsPolicy) allowed(origin string) (string, bool) {
	for _, o := range p.origins {
		if o == "*" {
			return "*", true
		}
		if strings.EqualFold(o, origin) {
			return origin, true
		}
	}
	return "", false
}

// preflight answers a CORS preflight itself, as API Gateway does when the
// API has a CORS configuration; it reports whether it did.
func (p *corsPolicy) preflight(w http.ResponseWriter, req *http.Request) bool {
	if req.Method != http.MethodOptions || req.Header.Get("Origin") == "" || req.Header.Get("Access-Control-Request-Method") == "" {
		return false
	}
	if allow, ok := p.allowed(req.Header.Get("Origin")); ok {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", allow)
		if len(p.methods) > 0 {
			h.Set("Access-Control-Allow-Methods", strings.Join(p.methods, ","))
		}
		if len(p.headers) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.ToLower(strings.Join(p.headers, ",")))
		}
		if p.maxAge != "" {
			h.Set("Access-Control-Max-Age", p.maxAge)
		}
		if p.credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		h.Add("Vary", "Origin")
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// decorate adds the CORS headers of an actual request.
func (p *corsPolicy) decorate(w http.ResponseWriter, req *http.Request) {
	origin := req.Header.Get("Origin")
	if origin == "" {
		return
	}
	allow, ok := p.allowed(origin)
	if !ok {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", allow)
	if len(p.expose) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(p.expose, ","))
	}
	if p.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Add("Vary", "Origin")
}
