package samtemplate

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const edgeSample = `
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
  Site:
    Type: AWS::S3::Bucket
  Headers:
    Type: AWS::CloudFront::ResponseHeadersPolicy
    Properties:
      ResponseHeadersPolicyConfig:
        Name: h
        SecurityHeadersConfig:
          ContentSecurityPolicy: {ContentSecurityPolicy: "default-src 'self'", Override: true}
          StrictTransportSecurity: {AccessControlMaxAgeSec: 600, IncludeSubdomains: true, Preload: true, Override: false}
          ContentTypeOptions: {Override: true}
          FrameOptions: {FrameOption: sameorigin, Override: true}
          ReferrerPolicy: {ReferrerPolicy: no-referrer, Override: true}
          XSSProtection: {Protection: true, ModeBlock: true, Override: true}
        CustomHeadersConfig:
          Items:
            - {Header: X-Extra, Value: "1", Override: false}
  Routes:
    Type: AWS::CloudFront::Function
    Properties:
      FunctionConfig: {Runtime: cloudfront-js-2.0}
      FunctionCode: "function handler(event) { return event.request; }"
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        DefaultRootObject: index.html
        Origins:
          - Id: files
            DomainName: !GetAtt Site.RegionalDomainName
          - Id: api
            DomainName: !Sub "${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
            OriginCustomHeaders:
              - {HeaderName: X-Secret, HeaderValue: !Sub "{{resolve:secretsmanager:${AWS::StackName}:SecretString:k}}"}
        DefaultCacheBehavior:
          TargetOriginId: files
          Compress: true
          ResponseHeadersPolicyId: !Ref Headers
          FunctionAssociations:
            - {EventType: viewer-request, FunctionARN: !GetAtt Routes.FunctionARN}
        CacheBehaviors:
          - PathPattern: /v1/*
            TargetOriginId: api
            AllowedMethods: [GET, HEAD, OPTIONS, PUT, PATCH, POST, DELETE]
            ResponseHeadersPolicyId: !Ref Headers
          - PathPattern: "img/?.png"
            TargetOriginId: files
`

func TestParseEdge(t *testing.T) {
	tpl, err := Parse([]byte(edgeSample))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := tpl.Distribution()
	if !ok {
		t.Fatal("no distribution")
	}
	if d.DefaultRootObject != "index.html" || len(d.Origins) != 2 || len(d.Behaviors) != 2 {
		t.Fatalf("distribution = %+v", d)
	}
	files, _ := d.Origin("files")
	api, _ := d.Origin("api")
	if files.Bucket != "Site" || files.HTTPAPI != "" || api.HTTPAPI != "Api" || api.Bucket != "" {
		t.Errorf("origins = %+v, %+v", files, api)
	}
	if len(api.CustomHeaders) != 1 || api.CustomHeaders[0].Name != "X-Secret" {
		t.Fatalf("api headers = %+v", api.CustomHeaders)
	}
	v, err := api.CustomHeaders[0].Value.Resolve(func(Ref) (string, error) { return "s", nil })
	if err != nil || v != "{{resolve:secretsmanager:s:SecretString:k}}" {
		t.Errorf("header value = %q, %v", v, err)
	}
	if f, ok := tpl.CloudFrontFunction(d.Default.ViewerRequest); !ok || f.Runtime != "cloudfront-js-2.0" || !strings.Contains(f.Code, "handler") {
		t.Errorf("viewer-request function %q = %+v", d.Default.ViewerRequest, f)
	}
	if !d.Default.Compress || !reflect.DeepEqual(d.Default.AllowedMethods, []string{"GET", "HEAD"}) || d.Default.ResponseHeadersPolicy != "Headers" {
		t.Errorf("default behaviour = %+v", d.Default)
	}
	for _, tt := range []struct{ path, origin, pattern string }{
		{"/", "files", ""},
		{"/index.html", "files", ""},
		{"/v1/codes/me", "api", "/v1/*"},
		{"/v1/", "api", "/v1/*"},
		{"/v1", "files", ""}, // "/v1/*" needs the slash
		{"/V1/codes", "files", ""},
		{"/img/a.png", "files", "img/?.png"},
		{"/img/ab.png", "files", ""},
	} {
		if b := d.Behavior(tt.path); b.Origin != tt.origin || b.PathPattern != tt.pattern {
			t.Errorf("Behavior(%q) = %q %q, want %q %q", tt.path, b.Origin, b.PathPattern, tt.origin, tt.pattern)
		}
	}
	p, ok := tpl.ResponseHeadersPolicy("Headers")
	if !ok {
		t.Fatal("no policy")
	}
	want := []ResponseHeader{
		{"Content-Security-Policy", "default-src 'self'", true},
		{"Strict-Transport-Security", "max-age=600; includeSubDomains; preload", false},
		{"X-Content-Type-Options", "nosniff", true},
		{"X-Frame-Options", "SAMEORIGIN", true},
		{"Referrer-Policy", "no-referrer", true},
		{"X-XSS-Protection", "1; mode=block", true},
		{"X-Extra", "1", false},
	}
	if !reflect.DeepEqual(p.Headers, want) {
		t.Errorf("headers =\n%+v\nwant\n%+v", p.Headers, want)
	}
}

func TestParseEdgeErrors(t *testing.T) {
	dist := func(cfg string) string {
		return "Resources:\n  B: {Type: AWS::S3::Bucket}\n  Q: {Type: AWS::SQS::Queue}\n  D:\n    Type: AWS::CloudFront::Distribution\n    Properties:\n      DistributionConfig:\n" + cfg
	}
	origins := "        Origins: [{Id: o, DomainName: !GetAtt B.RegionalDomainName}]\n"
	tests := []struct{ name, yaml, want string }{
		{"no default behaviour", dist(origins), "no DefaultCacheBehavior"},
		{"unknown origin", dist(origins + "        DefaultCacheBehavior: {TargetOriginId: x}\n"), `targets origin "x"`},
		{"policy not a ref", dist(origins + "        DefaultCacheBehavior: {TargetOriginId: o, ResponseHeadersPolicyId: 67f7725c}\n"), "must be !Ref of a policy"},
		{"policy of another type", dist(origins + "        DefaultCacheBehavior: {TargetOriginId: o, ResponseHeadersPolicyId: !Ref Q}\n"), "is not an AWS::CloudFront::ResponseHeadersPolicy"},
		{"viewer-response function", dist(origins + "        DefaultCacheBehavior: {TargetOriginId: o, FunctionAssociations: [{EventType: viewer-response, FunctionARN: !GetAtt Q.Arn}]}\n"), "only viewer-request"},
		{"function of another type", dist(origins + "        DefaultCacheBehavior: {TargetOriginId: o, FunctionAssociations: [{EventType: viewer-request, FunctionARN: !GetAtt Q.FunctionARN}]}\n"), "is not an AWS::CloudFront::Function"},
		{"behaviour without pattern", dist(origins + "        DefaultCacheBehavior: {TargetOriginId: o}\n        CacheBehaviors: [{TargetOriginId: o}]\n"), "has no PathPattern"},
		{"empty policy", "Resources:\n  P:\n    Type: AWS::CloudFront::ResponseHeadersPolicy\n    Properties: {ResponseHeadersPolicyConfig: {Name: p}}\n", "adds no headers"},
		{"CORS in policy", "Resources:\n  P:\n    Type: AWS::CloudFront::ResponseHeadersPolicy\n    Properties: {ResponseHeadersPolicyConfig: {Name: p, CorsConfig: {}, SecurityHeadersConfig: {ContentTypeOptions: {Override: true}}}}\n", "CorsConfig is not supported"},
		{"CSP from a parameter", "Parameters: {C: {Type: String, Default: x}}\nResources:\n  P:\n    Type: AWS::CloudFront::ResponseHeadersPolicy\n    Properties: {ResponseHeadersPolicyConfig: {Name: p, SecurityHeadersConfig: {ContentSecurityPolicy: {ContentSecurityPolicy: !Ref C, Override: true}}}}\n", "must be a plain value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// The repository's edge: the site from the bucket by default, /v1/* to the
// API with the origin header, both with the security headers, and a CSP
// that allows nothing inline.
func TestRepositoryEdge(t *testing.T) {
	tpl, err := Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := tpl.Distribution()
	if !ok {
		t.Fatal("template.yaml has no distribution")
	}
	site, _ := d.Origin(d.Default.Origin)
	if site.Bucket != "SiteBucket" || d.DefaultRootObject != "index.html" || !d.Default.Compress {
		t.Errorf("default behaviour %+v to origin %+v", d.Default, site)
	}
	apiB := d.Behavior("/v1/codes/me")
	api, _ := d.Origin(apiB.Origin)
	// The origin header comes from OriginHeaderFunction (the edge's key
	// value store), not from a custom header holding a secret.
	if api.HTTPAPI != "HttpApi" || len(api.CustomHeaders) != 0 || apiB.ViewerRequest != "OriginHeaderFunction" || !apiB.Compress {
		t.Errorf("/v1 behaviour %+v to origin %+v", apiB, api)
	}
	if apiB.ResponseHeadersPolicy == "" || apiB.ResponseHeadersPolicy != d.Default.ResponseHeadersPolicy {
		t.Errorf("the site and the API must carry the same policy: %q, %q", d.Default.ResponseHeadersPolicy, apiB.ResponseHeadersPolicy)
	}
	p, ok := tpl.ResponseHeadersPolicy(apiB.ResponseHeadersPolicy)
	if !ok {
		t.Fatal("no policy")
	}
	got := map[string]string{}
	for _, h := range p.Headers {
		got[h.Name] = h.Value
	}
	csp := got["Content-Security-Policy"]
	for _, must := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
		if !strings.Contains(csp, must) {
			t.Errorf("CSP %q lacks %q", csp, must)
		}
	}
	for _, never := range []string{"unsafe-inline", "unsafe-eval", "*"} {
		if strings.Contains(csp, never) {
			t.Errorf("CSP %q allows %q", csp, never)
		}
	}
	if !strings.HasPrefix(got["Strict-Transport-Security"], "max-age=") || got["X-Content-Type-Options"] != "nosniff" || got["Referrer-Policy"] == "" {
		t.Errorf("headers = %v", got)
	}
}
