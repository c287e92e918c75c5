package localrun

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gopkg.in/yaml.v3"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/samtemplate"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/platform"
)

// edgeRegistry stubs every function of the real template: those with
// routes answer the API event with what they saw of the origin header
// (never its value) and a body long enough to be compressed; the others
// are raw handlers. Parity is about the edge, not the functions.
func edgeRegistry(t *testing.T, template string) map[string]platform.Builder {
	t.Helper()
	tpl, err := samtemplate.Load(template)
	if err != nil {
		t.Fatal(err)
	}
	reg := map[string]platform.Builder{}
	for _, f := range tpl.Functions {
		if len(f.Routes) == 0 {
			reg[f.Name()] = func(context.Context, platform.Deps) (any, error) {
				return func(context.Context, json.RawMessage) (string, error) { return "ok", nil }, nil
			}
			continue
		}
		reg[f.Name()] = func(context.Context, platform.Deps) (any, error) {
			return func(_ context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				body, _ := json.Marshal(map[string]any{
					"sawOrigin": ev.Headers[strings.ToLower(httpapi.OriginHeader)] != "",
					"padding":   strings.Repeat("x", 1500),
				})
				return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: string(body),
					Headers: map[string]string{"Content-Type": "application/json", "Referrer-Policy": "unsafe-url"}}, nil
			}, nil
		}
	}
	return reg
}

// siteFixture is the real template beside a web/ and a build/site/ (the
// API reference's place) of our own; files are by key in the bucket.
func siteFixture(t *testing.T) (template string, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	template = filepath.Join(dir, "template.yaml")
	if err := os.WriteFile(template, b, 0o644); err != nil {
		t.Fatal(err)
	}
	files = map[string]string{
		"index.html":       "<!doctype html><title>index</title>" + strings.Repeat("<p>page</p>", 200),
		"js/app.js":        "export const x = 1;\n" + strings.Repeat("// more\n", 200),
		"css/site.css":     "body{}",
		"i18n/ko.json":     `{"a":"b"}`,
		"images/mark.svg":  "<svg/>",
		".editor-swap":     "not part of the site",
		"js/api.test.mjs":  "not part of the site either",
		"deep/dir/x.woff2": "font",
		"docs/api.html":    "<!doctype html><title>reference</title>" + strings.Repeat("<p>op</p>", 200),
		"docs/api-1.js":    "console.log(1);",
	}
	for name, body := range files {
		folder := "web"
		if strings.HasPrefix(name, "docs/") {
			folder = filepath.Join("build", "site")
		}
		p := filepath.Join(dir, folder, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return template, files
}

// policyHeaders reads a response headers policy of template.yaml with a walk of
// its YAML written here, independently of samtemplate, and renders the
// header lines as CloudFront's documentation gives them.
func policyHeaders(t *testing.T, template, policy string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(template)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	n := doc.Content[0]
	for _, key := range []string{"Resources", policy, "Properties", "ResponseHeadersPolicyConfig"} {
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			t.Fatalf("template has no %s on the way to the policy", key)
		}
		n = next
	}
	var cfg struct {
		SecurityHeadersConfig struct {
			ContentSecurityPolicy struct {
				ContentSecurityPolicy string `yaml:"ContentSecurityPolicy"`
			} `yaml:"ContentSecurityPolicy"`
			StrictTransportSecurity *struct {
				AccessControlMaxAgeSec int  `yaml:"AccessControlMaxAgeSec"`
				IncludeSubdomains      bool `yaml:"IncludeSubdomains"`
				Preload                bool `yaml:"Preload"`
			} `yaml:"StrictTransportSecurity"`
			ContentTypeOptions *struct{} `yaml:"ContentTypeOptions"`
			FrameOptions       *struct {
				FrameOption string `yaml:"FrameOption"`
			} `yaml:"FrameOptions"`
			ReferrerPolicy *struct {
				ReferrerPolicy string `yaml:"ReferrerPolicy"`
			} `yaml:"ReferrerPolicy"`
		} `yaml:"SecurityHeadersConfig"`
		CustomHeadersConfig struct {
			Items []struct {
				Header string `yaml:"Header"`
				Value  string `yaml:"Value"`
			} `yaml:"Items"`
		} `yaml:"CustomHeadersConfig"`
	}
	if err := n.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	s := cfg.SecurityHeadersConfig
	want := map[string]string{"Content-Security-Policy": s.ContentSecurityPolicy.ContentSecurityPolicy}
	if h := s.StrictTransportSecurity; h != nil {
		v := "max-age=" + strconv.Itoa(h.AccessControlMaxAgeSec)
		if h.IncludeSubdomains {
			v += "; includeSubDomains"
		}
		if h.Preload {
			v += "; preload"
		}
		want["Strict-Transport-Security"] = v
	}
	if s.ContentTypeOptions != nil {
		want["X-Content-Type-Options"] = "nosniff"
	}
	if s.FrameOptions != nil {
		want["X-Frame-Options"] = s.FrameOptions.FrameOption
	}
	if s.ReferrerPolicy != nil {
		want["Referrer-Policy"] = s.ReferrerPolicy.ReferrerPolicy
	}
	for _, it := range cfg.CustomHeadersConfig.Items {
		want[it.Header] = it.Value
	}
	for _, must := range []string{"Content-Security-Policy", "Strict-Transport-Security", "X-Content-Type-Options", "Referrer-Policy"} {
		if want[must] == "" {
			t.Fatalf("the template's policy has no %s", must)
		}
	}
	return want
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The runner serves the site and the API the way template.yaml's
// distribution does: the same security headers on both (the template's
// policy, held equal here), the site from the template's bucket into which
// web/ was uploaded, the page's routes to index.html, gzip when accepted,
// and the origin header on every API request, which the API functions
// require.
func TestEdgeServesLikeTheDistribution(t *testing.T) {
	template, files := siteFixture(t)
	want := policyHeaders(t, template, "SecurityHeadersPolicy")
	wantDocs := policyHeaders(t, template, "DocsHeadersPolicy")
	if want["Content-Security-Policy"] == wantDocs["Content-Security-Policy"] {
		t.Fatal("the docs policy's CSP is the site's: the test would not tell them apart")
	}
	eachStack(t, func(t *testing.T, stack *localstack.Stack) {
		r := startRunner(t, Options{TemplatePath: template, Stack: stack, Registry: edgeRegistry(t, template)})
		checkHeaders := func(what string, h http.Header) {
			t.Helper()
			policy := want
			if strings.Contains(what, " /docs/") {
				policy = wantDocs
			}
			for k, v := range policy {
				if got := h.Get(k); got != v {
					t.Errorf("%s: %s = %q, want the template's %q", what, k, got, v)
				}
			}
		}

		t.Run("bucket holds web/", func(t *testing.T) {
			out, err := r.s3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(r.names.bucket("SiteBucket"))})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, o := range out.Contents {
				keys = append(keys, aws.ToString(o.Key))
			}
			sort.Strings(keys)
			wantKeys := []string{"css/site.css", "deep/dir/x.woff2", "docs/api-1.js", "docs/api.html", "i18n/ko.json", "images/mark.svg", "index.html", "js/app.js"}
			if strings.Join(keys, " ") != strings.Join(wantKeys, " ") {
				t.Errorf("bucket keys = %v, want %v", keys, wantKeys)
			}
		})

		gz := http.Header{"Accept-Encoding": {"gzip, deflate, br"}}
		for _, tt := range []struct {
			method, path string
			header       http.Header
			status       int
			ctype        string
			body         string // the file it must be; "" for none
			gzipped      bool
		}{
			{"GET", "/", nil, 200, "text/html; charset=utf-8", "index.html", false},
			{"GET", "/", gz, 200, "text/html; charset=utf-8", "index.html", true},
			{"GET", "/get/name", gz, 200, "text/html; charset=utf-8", "index.html", true},
			{"GET", "/me", nil, 200, "text/html; charset=utf-8", "index.html", false},
			{"GET", "/js/app.js", gz, 200, "text/javascript; charset=utf-8", "js/app.js", true},
			{"GET", "/js/app.js", http.Header{"Accept-Encoding": {"gzip;q=0"}}, 200, "text/javascript; charset=utf-8", "js/app.js", false},
			{"GET", "/css/site.css", gz, 200, "text/css; charset=utf-8", "css/site.css", false}, // under 1,000 bytes
			{"GET", "/i18n/ko.json", nil, 200, "application/json; charset=utf-8", "i18n/ko.json", false},
			{"GET", "/images/mark.svg", nil, 200, "image/svg+xml", "images/mark.svg", false},
			{"GET", "/js/missing.js", nil, 404, "application/xml", "", false},
			{"GET", "/docs/api", gz, 200, "text/html; charset=utf-8", "docs/api.html", true},
			{"GET", "/docs/api-1.js", nil, 200, "text/javascript; charset=utf-8", "docs/api-1.js", false},
			{"GET", "/docs/nothing", nil, 404, "application/xml", "", false},
			{"GET", "/docs/", nil, 404, "application/xml", "", false},
			{"GET", "/.editor-swap", nil, 404, "application/xml", "", false},
			{"HEAD", "/", nil, 200, "text/html; charset=utf-8", "", false},
			{"POST", "/", nil, 403, "text/plain; charset=utf-8", "", false},
			{"DELETE", "/js/app.js", nil, 403, "text/plain; charset=utf-8", "", false},
		} {
			rep := do(t, tt.method, r.URL()+tt.path, tt.header, "")
			what := tt.method + " " + tt.path
			if rep.status != tt.status || rep.header.Get("Content-Type") != tt.ctype {
				t.Errorf("%s: %d %q, want %d %q", what, rep.status, rep.header.Get("Content-Type"), tt.status, tt.ctype)
			}
			checkHeaders(what, rep.header)
			if got := rep.header.Get("Content-Encoding") == "gzip"; got != tt.gzipped {
				t.Errorf("%s: gzipped %v, want %v", what, got, tt.gzipped)
			}
			body := rep.body
			if tt.gzipped {
				body = gunzip(t, body)
			}
			if tt.body != "" && string(body) != files[tt.body] {
				t.Errorf("%s: body is not %s: %.60q", what, tt.body, body)
			}
			if tt.method == "HEAD" && len(body) != 0 {
				t.Errorf("%s: a body", what)
			}
			if tt.status == 200 && tt.method == "GET" && !strings.Contains(rep.header.Get("Cache-Control"), "max-age=") {
				t.Errorf("%s: Cache-Control %q", what, rep.header.Get("Cache-Control"))
			}
		}

		t.Run("revalidation", func(t *testing.T) {
			first := do(t, "GET", r.URL()+"/js/app.js", gz, "")
			etag := first.header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			if rep := do(t, "GET", r.URL()+"/js/app.js", http.Header{"If-None-Match": {etag}, "Accept-Encoding": {"gzip"}}, ""); rep.status != 304 || len(rep.body) != 0 {
				t.Errorf("If-None-Match: %d, %d bytes", rep.status, len(rep.body))
			}
		})

		t.Run("api through the distribution", func(t *testing.T) {
			// A viewer's own origin header is replaced, as CloudFront does.
			rep := do(t, "GET", r.URL()+"/v1/codes/me", http.Header{httpapi.OriginHeader: {"a guess"}, "Accept-Encoding": {"gzip"}}, "")
			if rep.status != 200 || rep.header.Get("Content-Encoding") != "gzip" {
				t.Fatalf("GET /v1/codes/me: %d %q %s", rep.status, rep.header.Get("Content-Encoding"), rep.body)
			}
			// Override: the policy's Referrer-Policy wins over the function's.
			checkHeaders("GET /v1/codes/me", rep.header)
			var got struct{ SawOrigin bool }
			if err := json.Unmarshal(gunzip(t, rep.body), &got); err != nil || !got.SawOrigin {
				t.Errorf("the function did not see the origin header: %v %+v", err, got)
			}
			// Unknown API paths are the API's 404, with the headers too.
			nf := do(t, "GET", r.URL()+"/v1/nothing-here", nil, "")
			if nf.status != 404 || !strings.Contains(string(nf.body), "NOT_FOUND") {
				t.Errorf("GET /v1/nothing-here: %d %s", nf.status, nf.body)
			}
			checkHeaders("GET /v1/nothing-here", nf.header)
		})

		t.Run("round the distribution", func(t *testing.T) {
			// The function as built (as a Lambda cold start builds it),
			// invoked as API Gateway would from its execute-api URL: no
			// origin header, or a wrong one, is 403 before the endpoint.
			fn := r.functions["LookupCodeFunction"]
			for name, headers := range map[string]map[string]string{
				"no header":    {},
				"wrong header": {strings.ToLower(httpapi.OriginHeader): strings.Repeat("0", 44)},
			} {
				ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "GET /v1/codes/me", RawPath: "/v1/codes/me", Headers: headers}
				ev.RequestContext.RequestID = "direct"
				payload, _ := json.Marshal(ev)
				out, err := fn.invoke(context.Background(), payload)
				if err != nil {
					t.Fatal(err)
				}
				var resp events.APIGatewayV2HTTPResponse
				if err := json.Unmarshal(out, &resp); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 403 || !strings.Contains(resp.Body, `"FORBIDDEN"`) || strings.Contains(resp.Body, "sawOrigin") {
					t.Errorf("%s: %d %s", name, resp.StatusCode, resp.Body)
				}
			}
		})
	})
}

func TestPageRoute(t *testing.T) {
	for in, want := range map[string]string{
		"/":               "/index.html",
		"/me":             "/index.html",
		"/get/name":       "/index.html",
		"/get/name/":      "/index.html",
		"/index.html":     "/index.html",
		"/js/app.js":      "/js/app.js",
		"/i18n/ko.json":   "/i18n/ko.json",
		"/v.1/page":       "/index.html",
		"/images/mark.sv": "/images/mark.sv",
	} {
		if got := pageRoute(in); got != want {
			t.Errorf("pageRoute(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"/docs/api":      "/docs/api.html",
		"/docs/api.html": "/docs/api.html",
		"/docs/api-1.js": "/docs/api-1.js",
		"/docs/":         "/docs/",
	} {
		if got := docsRoute(in); got != want {
			t.Errorf("docsRoute(%q) = %q, want %q", in, got, want)
		}
	}
	// The twin is the template's function, and another code is refused.
	tpl, err := samtemplate.Load(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tpl.CloudFrontFunctions {
		if _, ok := knownFunction(f.Code); !ok && !sameCode(f.Code, originHeaderFunction) {
			t.Errorf("template function %s has no Go twin", f.LogicalID)
		}
	}
	if _, ok := knownFunction("function handler(event) { return event.request; }"); ok {
		t.Error("an unknown function was taken as known")
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"": false, "gzip": true, "gzip, deflate, br": true, "br;q=1, gzip;q=0.5": true,
		"gzip;q=0": false, "gzip;q=0.0": false, "*": true, "deflate": false, "GZIP": true,
	} {
		if acceptsGzip(h) != want {
			t.Errorf("acceptsGzip(%q) = %v", h, !want)
		}
	}
}
