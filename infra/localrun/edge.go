package localrun

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pccc/pccc/infra/samtemplate"
	"github.com/pccc/pccc/shared/httpapi"
)

// edge is the template's CloudFront distribution as the runner serves it:
// each request goes to the behaviour its path matches (template order,
// default last); a bucket origin is served from the local S3 (site.go),
// the HttpApi origin by the API Gateway emulation with the origin's custom
// headers set as CloudFront sets them (replacing a viewer's); the answer
// then gets the behaviour's response headers policy and, when Compress is
// on, gzip. All of it is read from the template, nothing wired by hand.
type edge struct {
	rootObject string
	behaviors  []*edgeBehavior // cache behaviours in order, then the default
}

type edgeBehavior struct {
	samtemplate.Behavior
	bucket        string      // physical bucket of a bucket origin
	api           bool        // the HttpApi origin
	originHeaders [][2]string // name, resolved value
	headers       []samtemplate.ResponseHeader
	viewerRequest func(uri string) string
	// setsOrigin: the behaviour's function sets the origin header from
	// the edge's key value store (OriginHeaderFunction's twin).
	setsOrigin bool
}

// buildEdge reads the distribution; no distribution, no edge (the API is
// then served directly, as before there was one).
func (r *Runner) buildEdge(secrets map[string]string) error {
	d, ok := r.tpl.Distribution()
	if !ok {
		return nil
	}
	e := &edge{rootObject: d.DefaultRootObject}
	for _, b := range append(append([]samtemplate.Behavior{}, d.Behaviors...), d.Default) {
		eb, err := r.edgeBehavior(d, b, secrets)
		if err != nil {
			return fmt.Errorf("distribution %s behaviour %q: %w", d.LogicalID, b.PathPattern, err)
		}
		e.behaviors = append(e.behaviors, eb)
	}
	r.edge = e
	return nil
}

func (r *Runner) edgeBehavior(d samtemplate.Distribution, b samtemplate.Behavior, secrets map[string]string) (*edgeBehavior, error) {
	o, _ := d.Origin(b.Origin) // samtemplate checked it exists
	eb := &edgeBehavior{Behavior: b}
	switch {
	case o.Bucket != "":
		eb.bucket = r.names.bucket(o.Bucket)
	case o.HTTPAPI != "":
		eb.api = true
	default:
		return nil, fmt.Errorf("origin %q is neither a bucket nor the HttpApi of this template; the local runner has nothing to serve it with", o.ID)
	}
	for _, h := range o.CustomHeaders {
		v, err := h.Value.Resolve(r.resolve)
		if err == nil {
			v, err = replaceDynamicRefs(v, secrets)
		}
		if err != nil {
			return nil, fmt.Errorf("origin %q header %s: %w", o.ID, h.Name, err)
		}
		eb.originHeaders = append(eb.originHeaders, [2]string{h.Name, v})
	}
	if b.ResponseHeadersPolicy != "" {
		p, _ := r.tpl.ResponseHeadersPolicy(b.ResponseHeadersPolicy)
		eb.headers = p.Headers
	}
	if b.ViewerRequest != "" {
		f, _ := r.tpl.CloudFrontFunction(b.ViewerRequest)
		if sameCode(f.Code, originHeaderFunction) {
			eb.setsOrigin = true
			return eb, nil
		}
		twin, ok := knownFunction(f.Code)
		if !ok {
			return nil, fmt.Errorf("CloudFront function %s: its code is not one the local runner has a Go twin for; add one to knownFunctions (infra/localrun/site.go)", f.LogicalID)
		}
		eb.viewerRequest = twin
	}
	return eb, nil
}

func (e *edge) behavior(path string) *edgeBehavior {
	for _, b := range e.behaviors {
		if b.Matches(path) {
			return b
		}
	}
	return e.behaviors[len(e.behaviors)-1]
}

// serve answers a viewer request as the distribution would.
func (r *Runner) serveEdge(w http.ResponseWriter, req *http.Request) {
	b := r.edge.behavior(req.URL.Path)
	rec := &recorder{header: http.Header{}}
	switch {
	case !slices.Contains(b.AllowedMethods, req.Method):
		// CloudFront's own answer to a method the behaviour does not allow.
		rec.header.Set("Content-Type", "text/plain; charset=utf-8")
		rec.WriteHeader(http.StatusForbidden)
		_, _ = rec.Write([]byte("This distribution is not configured to allow the HTTP request method that was used for this request."))
	case b.api:
		r.toOrigin(b, req)
		r.serveAPI(rec, req)
	default:
		r.serveBucket(rec, req, b)
	}
	b.finish(w, req, rec)
}

// toOrigin sets the headers the distribution adds to a request it passes
// to the API.
func (r *Runner) toOrigin(b *edgeBehavior, req *http.Request) {
	for _, h := range b.originHeaders {
		req.Header.Set(h[0], h[1])
	}
	if b.setsOrigin {
		// What OriginHeaderFunction does with the key value store's
		// value: the origin ring's active one here.
		req.Header.Set(httpapi.OriginHeader, r.originValue())
	}
}

// finish writes the origin's answer to the viewer with the policy's
// headers and, when the behaviour compresses, gzip.
func (b *edgeBehavior) finish(w http.ResponseWriter, req *http.Request, rec *recorder) {
	h := w.Header()
	for k, v := range rec.header {
		h[k] = v
	}
	applyHeaders(h, b.headers)
	body := rec.body.Bytes()
	if b.Compress && req.Method != http.MethodHead && compressible(h, len(body)) && acceptsGzip(req.Header.Get("Accept-Encoding")) {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(body)
		_ = zw.Close()
		body = z.Bytes()
		h.Set("Content-Encoding", "gzip")
		h.Add("Vary", "Accept-Encoding")
		h.Del("Content-Length")
		// CloudFront weakens the ETag of what it compressed.
		if et := h.Get("ETag"); et != "" && !strings.HasPrefix(et, "W/") {
			h.Set("ETag", "W/"+et)
		}
	}
	if req.Method != http.MethodHead && h.Get("Content-Encoding") == "" {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	if req.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// applyHeaders sets a response headers policy's headers: with Override the
// policy's value wins, without it the origin's does.
func applyHeaders(h http.Header, policy []samtemplate.ResponseHeader) {
	for _, p := range policy {
		if p.Override || h.Get(p.Name) == "" {
			h.Set(p.Name, p.Value)
		}
	}
}

// compressible follows CloudFront's rule: 1,000 to 10,000,000 bytes, not
// already encoded, of a type it compresses.
func compressible(h http.Header, size int) bool {
	if size < 1000 || size > 10_000_000 || h.Get("Content-Encoding") != "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", mt == "application/javascript", mt == "application/x-javascript",
		mt == "application/xml", mt == "application/manifest+json", mt == "application/problem+json",
		mt == "image/svg+xml", mt == "image/x-icon", mt == "font/ttf", mt == "font/otf":
		return true
	}
	return false
}

func acceptsGzip(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if name = strings.TrimSpace(name); !strings.EqualFold(name, "gzip") && name != "*" {
			continue
		}
		q, hasQ := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !hasQ {
			return true
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
		return err == nil && f > 0
	}
	return false
}

// recorder keeps an origin's answer for the edge to finish.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
