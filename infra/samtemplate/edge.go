package samtemplate

import (
	"fmt"
	"strings"
)

// Resource types of the edge.
const (
	TypeDistribution          = "AWS::CloudFront::Distribution"
	TypeResponseHeadersPolicy = "AWS::CloudFront::ResponseHeadersPolicy"
	TypeCloudFrontFunction    = "AWS::CloudFront::Function"
)

// Distribution is an AWS::CloudFront::Distribution: what the local runner
// needs to answer as the distribution would (which origin a path goes to,
// the root object, compression, the headers added both ways).
type Distribution struct {
	LogicalID         string
	DefaultRootObject string
	Origins           []Origin
	// Default is DefaultCacheBehavior; Behaviors are CacheBehaviors in
	// the template's order, which is CloudFront's order of matching.
	Default   Behavior
	Behaviors []Behavior
}

// Origin is one of a distribution's origins.
type Origin struct {
	ID string
	// Bucket is the logical id of the S3 bucket whose domain the origin
	// names (!GetAtt Bucket.RegionalDomainName or .DomainName), "" for
	// other origins.
	Bucket string
	// HTTPAPI is the logical id of the HttpApi whose execute-api domain
	// the origin names (!Sub "${Api}.execute-api..."), "" for others.
	HTTPAPI string
	// CustomHeaders are OriginCustomHeaders: set on every request to the
	// origin, replacing a viewer's header of the same name.
	CustomHeaders []OriginHeader
}

// OriginHeader is one of OriginCustomHeaders. Value may hold references
// and dynamic references, resolved by whoever deploys.
type OriginHeader struct {
	Name  string
	Value Value
}

// Behavior is a cache behaviour.
type Behavior struct {
	PathPattern string // "" for the default behaviour
	Origin      string // TargetOriginId
	// AllowedMethods default to GET and HEAD, as in CloudFront.
	AllowedMethods []string
	Compress       bool
	// ResponseHeadersPolicy is the logical id of the policy
	// (!Ref Policy), "" for none.
	ResponseHeadersPolicy string
	// ViewerRequest is the logical id of the CloudFront function run on
	// each viewer request (FunctionAssociations, viewer-request), "" for
	// none.
	ViewerRequest string
}

// CloudFrontFunction is an AWS::CloudFront::Function: its JavaScript, which
// the local runner cannot run but recognises (it keeps a Go twin of each
// function it knows).
type CloudFrontFunction struct {
	LogicalID string
	Runtime   string
	Code      string
}

// Matches reports whether a request path falls under the behaviour's path
// pattern: CloudFront's patterns, where * matches any run of characters
// (slashes included) and ? one character, case-sensitive. The default
// behaviour matches everything.
func (b Behavior) Matches(path string) bool {
	if b.PathPattern == "" {
		return true
	}
	pattern := b.PathPattern
	if !strings.HasPrefix(pattern, "/") {
		pattern = "/" + pattern
	}
	return globMatch(pattern, path)
}

func globMatch(pattern, s string) bool {
	// Iterative wildcard matching with backtracking to the last *.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Behavior returns the behaviour a path goes to: the first cache
// behaviour whose pattern matches, else the default.
func (d Distribution) Behavior(path string) Behavior {
	for _, b := range d.Behaviors {
		if b.Matches(path) {
			return b
		}
	}
	return d.Default
}

// Origin returns the origin with the id.
func (d Distribution) Origin(id string) (Origin, bool) {
	for _, o := range d.Origins {
		if o.ID == id {
			return o, true
		}
	}
	return Origin{}, false
}

// ResponseHeadersPolicy is an AWS::CloudFront::ResponseHeadersPolicy as the
// headers CloudFront adds to each answer.
type ResponseHeadersPolicy struct {
	LogicalID string
	Headers   []ResponseHeader
}

// ResponseHeader is one header a policy adds. With Override the policy's
// value replaces the origin's; without, it is added only when the origin
// sent none.
type ResponseHeader struct {
	Name     string
	Value    string
	Override bool
}

func (p *parser) distribution(res Resource) Distribution {
	where := "distribution " + res.LogicalID
	cfg := mapping(res.Properties["DistributionConfig"])
	d := Distribution{LogicalID: res.LogicalID, DefaultRootObject: str(cfg["DefaultRootObject"])}
	for _, o := range list(cfg["Origins"]) {
		d.Origins = append(d.Origins, p.origin(mapping(o), where))
	}
	def, ok := cfg["DefaultCacheBehavior"].(map[string]any)
	if !ok {
		p.fail("%s has no DefaultCacheBehavior", where)
	}
	d.Default = p.behavior(def, where+" DefaultCacheBehavior")
	for i, b := range list(cfg["CacheBehaviors"]) {
		bw := fmt.Sprintf("%s CacheBehaviors[%d]", where, i)
		x := p.behavior(mapping(b), bw)
		if x.PathPattern == "" {
			p.fail("%s has no PathPattern", bw)
		}
		d.Behaviors = append(d.Behaviors, x)
	}
	for _, b := range append([]Behavior{d.Default}, d.Behaviors...) {
		if _, ok := d.Origin(b.Origin); !ok {
			p.fail("%s: behaviour %q targets origin %q, which it does not declare", where, b.PathPattern, b.Origin)
		}
	}
	return d
}

func (p *parser) origin(m map[string]any, where string) Origin {
	o := Origin{ID: str(m["Id"])}
	where = fmt.Sprintf("%s origin %q", where, o.ID)
	domain := Value{m["DomainName"]}
	if ref, ok := domain.RefTarget(); ok && (ref.Attribute == "RegionalDomainName" || ref.Attribute == "DomainName") {
		o.Bucket = ref.Name
	} else {
		// !Sub "${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}":
		// find the API by resolving with a resolver that notes references.
		var refs []Ref
		s, err := domain.Resolve(func(r Ref) (string, error) { refs = append(refs, r); return "<" + r.Name + ">", nil })
		if err == nil && strings.Contains(s, ".execute-api.") {
			for _, r := range refs {
				if r.Attribute == "" && !strings.HasPrefix(r.Name, "AWS::") {
					o.HTTPAPI = r.Name
				}
			}
		}
	}
	for _, h := range list(m["OriginCustomHeaders"]) {
		hm := mapping(h)
		oh := OriginHeader{Name: str(hm["HeaderName"]), Value: Value{hm["HeaderValue"]}}
		if oh.Name == "" || oh.Value.IsZero() {
			p.fail("%s: an OriginCustomHeaders entry needs HeaderName and HeaderValue", where)
		}
		o.CustomHeaders = append(o.CustomHeaders, oh)
	}
	if o.ID == "" {
		p.fail("%s: an origin has no Id", where)
	}
	return o
}

func (p *parser) behavior(m map[string]any, where string) Behavior {
	b := Behavior{
		PathPattern: str(m["PathPattern"]),
		Origin:      str(m["TargetOriginId"]),
		Compress:    p.boolean(m["Compress"], false, "%s Compress", where),
	}
	for _, x := range list(m["AllowedMethods"]) {
		b.AllowedMethods = append(b.AllowedMethods, strings.ToUpper(str(x)))
	}
	if len(b.AllowedMethods) == 0 {
		b.AllowedMethods = []string{"GET", "HEAD"}
	}
	for _, fa := range list(m["FunctionAssociations"]) {
		fm := mapping(fa)
		ref, ok := (Value{fm["FunctionARN"]}).RefTarget()
		switch {
		case str(fm["EventType"]) != "viewer-request":
			p.fail("%s: only viewer-request function associations are supported by samtemplate (and so by the local runner)", where)
		case !ok || ref.Attribute != "FunctionARN":
			p.fail("%s: FunctionARN must be !GetAtt <Function>.FunctionARN of a function in this template", where)
		default:
			b.ViewerRequest = ref.Name
		}
	}
	if len(list(m["LambdaFunctionAssociations"])) > 0 {
		p.fail("%s: Lambda@Edge associations are not supported by samtemplate (and so not by the local runner)", where)
	}
	if v, ok := m["ResponseHeadersPolicyId"]; ok {
		ref, isRef := (Value{v}).RefTarget()
		if !isRef || ref.Attribute != "" {
			p.fail("%s: ResponseHeadersPolicyId must be !Ref of a policy in this template (the local runner sets its headers)", where)
		}
		b.ResponseHeadersPolicy = ref.Name
	}
	return b
}

// responseHeadersPolicy renders a policy's SecurityHeadersConfig and
// CustomHeadersConfig as the header lines CloudFront writes.
func (p *parser) responseHeadersPolicy(res Resource) ResponseHeadersPolicy {
	where := "response headers policy " + res.LogicalID
	cfg := mapping(res.Properties["ResponseHeadersPolicyConfig"])
	rp := ResponseHeadersPolicy{LogicalID: res.LogicalID}
	add := func(name, value string, m map[string]any) {
		rp.Headers = append(rp.Headers, ResponseHeader{
			Name: name, Value: value,
			Override: p.boolean(m["Override"], false, "%s %s Override", where, name),
		})
	}
	plain := func(m map[string]any, key, name string) string {
		v, ok := scalarString(m[key])
		if !ok || v == "" {
			p.fail("%s: %s.%s must be a plain value", where, name, key)
		}
		return v
	}
	sec := mapping(cfg["SecurityHeadersConfig"])
	if m, ok := sec["ContentSecurityPolicy"].(map[string]any); ok {
		add("Content-Security-Policy", plain(m, "ContentSecurityPolicy", "ContentSecurityPolicy"), m)
	}
	if m, ok := sec["StrictTransportSecurity"].(map[string]any); ok {
		v := "max-age=" + plain(m, "AccessControlMaxAgeSec", "StrictTransportSecurity")
		if p.boolean(m["IncludeSubdomains"], false, "%s IncludeSubdomains", where) {
			v += "; includeSubDomains"
		}
		if p.boolean(m["Preload"], false, "%s Preload", where) {
			v += "; preload"
		}
		add("Strict-Transport-Security", v, m)
	}
	if m, ok := sec["ContentTypeOptions"].(map[string]any); ok {
		add("X-Content-Type-Options", "nosniff", m)
	}
	if m, ok := sec["FrameOptions"].(map[string]any); ok {
		add("X-Frame-Options", strings.ToUpper(plain(m, "FrameOption", "FrameOptions")), m)
	}
	if m, ok := sec["ReferrerPolicy"].(map[string]any); ok {
		add("Referrer-Policy", plain(m, "ReferrerPolicy", "ReferrerPolicy"), m)
	}
	if m, ok := sec["XSSProtection"].(map[string]any); ok {
		v := "0"
		if p.boolean(m["Protection"], false, "%s XSSProtection.Protection", where) {
			v = "1"
			if p.boolean(m["ModeBlock"], false, "%s XSSProtection.ModeBlock", where) {
				v += "; mode=block"
			} else if u := str(m["ReportUri"]); u != "" {
				v += "; report=" + u
			}
		}
		add("X-XSS-Protection", v, m)
	}
	for _, it := range list(mapping(cfg["CustomHeadersConfig"])["Items"]) {
		m := mapping(it)
		add(plain(m, "Header", "CustomHeadersConfig"), plain(m, "Value", "CustomHeadersConfig"), m)
	}
	for _, k := range []string{"CorsConfig", "ServerTimingHeadersConfig", "RemoveHeadersConfig"} {
		if _, ok := cfg[k]; ok {
			p.fail("%s: %s is not supported by samtemplate (and so not by the local runner); add it there", where, k)
		}
	}
	if len(rp.Headers) == 0 {
		p.fail("%s adds no headers", where)
	}
	return rp
}

func (p *parser) cloudFrontFunction(res Resource) CloudFrontFunction {
	f := CloudFrontFunction{
		LogicalID: res.LogicalID,
		Runtime:   str(mapping(res.Properties["FunctionConfig"])["Runtime"]),
		Code:      str(res.Properties["FunctionCode"]),
	}
	if f.Code == "" {
		p.fail("CloudFront function %s: FunctionCode must be the code itself, as a plain string", res.LogicalID)
	}
	return f
}

// CloudFrontFunction returns the CloudFront function with the logical id.
func (t *Template) CloudFrontFunction(id string) (CloudFrontFunction, bool) {
	for _, f := range t.CloudFrontFunctions {
		if f.LogicalID == id {
			return f, true
		}
	}
	return CloudFrontFunction{}, false
}

// Distribution returns the template's only distribution, false when it has
// none; more than one is a parse error.
func (t *Template) Distribution() (Distribution, bool) {
	if len(t.Distributions) == 0 {
		return Distribution{}, false
	}
	return t.Distributions[0], true
}

// ResponseHeadersPolicy returns the policy with the logical id.
func (t *Template) ResponseHeadersPolicy(id string) (ResponseHeadersPolicy, bool) {
	for _, p := range t.ResponseHeadersPolicies {
		if p.LogicalID == id {
			return p, true
		}
	}
	return ResponseHeadersPolicy{}, false
}

func (p *parser) checkEdge() {
	if len(p.t.Distributions) > 1 {
		p.fail("the template declares %d distributions; samtemplate (and the local runner) serve one", len(p.t.Distributions))
	}
	for _, d := range p.t.Distributions {
		for _, b := range append([]Behavior{d.Default}, d.Behaviors...) {
			if b.ViewerRequest != "" && p.t.Resources[b.ViewerRequest].Type != TypeCloudFrontFunction {
				p.fail("distribution %s: behaviour %q runs %s, which is not an %s", d.LogicalID, b.PathPattern, b.ViewerRequest, TypeCloudFrontFunction)
			}
			if b.ResponseHeadersPolicy != "" && p.t.Resources[b.ResponseHeadersPolicy].Type != TypeResponseHeadersPolicy {
				p.fail("distribution %s: behaviour %q names %s, which is not an %s", d.LogicalID, b.PathPattern, b.ResponseHeadersPolicy, TypeResponseHeadersPolicy)
			}
		}
		for _, o := range d.Origins {
			if o.Bucket != "" && p.t.Resources[o.Bucket].Type != TypeBucket {
				p.fail("distribution %s: origin %q names %s, which is not an %s", d.LogicalID, o.ID, o.Bucket, TypeBucket)
			}
			if o.HTTPAPI != "" && p.t.Resources[o.HTTPAPI].Type != TypeHTTPAPI {
				p.fail("distribution %s: origin %q names %s, which is not an %s", d.LogicalID, o.ID, o.HTTPAPI, TypeHTTPAPI)
			}
		}
	}
}
