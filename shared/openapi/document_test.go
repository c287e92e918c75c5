package openapi

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/infra/samtemplate"
	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/campaign"
	"github.com/pccc/pccc/shared/campaignapi"
	"github.com/pccc/pccc/shared/clearance"
	"github.com/pccc/pccc/shared/clearanceapi"
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/declaration"
	"github.com/pccc/pccc/shared/declarationapi"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/identityapi"
	"github.com/pccc/pccc/shared/otp"
	"github.com/pccc/pccc/shared/statsapi"
	"github.com/pccc/pccc/shared/testkit"
)

// These tests hold the hand-written document to what the code does: the
// routes of template.yaml, the Go types that decode requests and encode
// answers, the values the validators accept, and apperr's status table.

// methods are the operation keys of an OpenAPI path item.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

type doc map[string]any

func load(t *testing.T) doc {
	t.Helper()
	var d doc
	if err := json.Unmarshal(Document(), &d); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return d
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }

func list(v any) []any { l, _ := v.([]any); return l }

// at walks keys from v, failing the test when one is missing.
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		m, ok := v.(map[string]any)
		if !ok || m[k] == nil {
			t.Fatalf("openapi.json has no %s", strings.Join(keys[:i+1], "."))
		}
		v = m[k]
	}
	return v
}

// operation is one method of one path.
type operation struct {
	key string // "POST /v1/verifications", as API Gateway names the route
	op  map[string]any
}

func (d doc) operations(t *testing.T) []operation {
	t.Helper()
	var out []operation
	for path, item := range obj(at(t, map[string]any(d), "paths")) {
		for _, m := range methods {
			if op := obj(obj(item)[m]); op != nil {
				out = append(out, operation{key: strings.ToUpper(m) + " " + path, op: op})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// resolve follows a local $ref ("#/components/...") to what it names.
func (d doc) resolve(ref string) (any, error) {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("%s: only references into this document are used", ref)
	}
	var v any = map[string]any(d)
	for _, part := range strings.Split(rest, "/") {
		part = strings.NewReplacer("~1", "/", "~0", "~").Replace(part)
		m, ok := v.(map[string]any)
		if !ok || m[part] == nil {
			return nil, fmt.Errorf("%s: nothing at %q", ref, part)
		}
		v = m[part]
	}
	return v, nil
}

// deref returns v itself, or what its $ref names.
func (d doc) deref(t *testing.T, v any) map[string]any {
	t.Helper()
	m := obj(v)
	if ref, ok := m["$ref"].(string); ok {
		target, err := d.resolve(ref)
		if err != nil {
			t.Fatal(err)
		}
		return obj(target)
	}
	return m
}

func repoRoot(t *testing.T) string { return testkit.Root(t) }

func TestDocumentParsesAndEveryRefResolves(t *testing.T) {
	d := load(t)
	if v, _ := d["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Errorf("openapi = %q, want an OpenAPI 3 version", v)
	}
	refs := 0
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"]; ok {
				refs++
				s, isString := ref.(string)
				if !isString {
					t.Errorf("%s: $ref is not a string", where)
				} else if _, err := d.resolve(s); err != nil {
					t.Errorf("%s: %v", where, err)
				}
			}
			for k, e := range x {
				walk(where+"/"+k, e)
			}
		case []any:
			for i, e := range x {
				walk(where+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("#", map[string]any(d))
	if refs == 0 {
		t.Error("no $ref found: the walk is broken")
	}
}

// templateRoutes are the route keys of every HttpApi event in template.yaml.
func templateRoutes(t *testing.T) []string {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range tpl.Routes() {
		keys = append(keys, r.RouteKey())
	}
	return keys
}

// routeDiff returns the routes only the template has and those only the
// document has.
func routeDiff(template, document []string) (onlyTemplate, onlyDocument []string) {
	inDoc := map[string]bool{}
	for _, k := range document {
		inDoc[k] = true
	}
	inTpl := map[string]bool{}
	for _, k := range template {
		inTpl[k] = true
		if !inDoc[k] {
			onlyTemplate = append(onlyTemplate, k)
		}
	}
	for _, k := range document {
		if !inTpl[k] {
			onlyDocument = append(onlyDocument, k)
		}
	}
	sort.Strings(onlyTemplate)
	sort.Strings(onlyDocument)
	return onlyTemplate, onlyDocument
}

// The document describes exactly the routes template.yaml deploys: a route
// added to either without the other fails here. The local runner's own
// routes (/healthz, /_local/sms) are in neither.
func TestRoutesMatchTemplate(t *testing.T) {
	tpl := templateRoutes(t)
	var inDoc []string
	for _, op := range load(t).operations(t) {
		inDoc = append(inDoc, op.key)
	}
	onlyTpl, onlyDoc := routeDiff(tpl, inDoc)
	for _, k := range onlyTpl {
		t.Errorf("template.yaml routes %s, which openapi.json does not describe", k)
	}
	for _, k := range onlyDoc {
		t.Errorf("openapi.json describes %s, which no HttpApi event in template.yaml routes", k)
	}
	if len(tpl) == 0 {
		t.Error("the template reader found no routes in template.yaml")
	}
	if !slices.Contains(tpl, Route) {
		t.Errorf("template.yaml does not route %s to this document", Route)
	}
}

func TestRouteDiff(t *testing.T) {
	base := []string{"GET /a", "POST /b/{id}"}
	tests := []struct {
		name               string
		template, document []string
		onlyTpl, onlyDoc   []string
	}{
		{"same", base, []string{"POST /b/{id}", "GET /a"}, nil, nil},
		{"route added to the template only", append(slices.Clone(base), "PATCH /a"), base, []string{"PATCH /a"}, nil},
		{"route added to the document only", base, append(slices.Clone(base), "DELETE /b/{id}"), nil, []string{"DELETE /b/{id}"}},
		{"method differs", []string{"GET /a"}, []string{"POST /a"}, []string{"GET /a"}, []string{"POST /a"}},
		{"path parameter named differently", []string{"POST /b/{id}"}, []string{"POST /b/{bid}"}, []string{"POST /b/{id}"}, []string{"POST /b/{bid}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotTpl, gotDoc := routeDiff(tt.template, tt.document)
			if !reflect.DeepEqual(gotTpl, tt.onlyTpl) || !reflect.DeepEqual(gotDoc, tt.onlyDoc) {
				t.Errorf("routeDiff = %v, %v; want %v, %v", gotTpl, gotDoc, tt.onlyTpl, tt.onlyDoc)
			}
		})
	}
}

// errorCodes returns the codes an error response's body may carry: the
// enum that narrows error.code.
func errorCodes(resp map[string]any) []string {
	schema := obj(obj(obj(obj(resp["content"])["application/json"])["schema"]))
	var codes []string
	for _, part := range list(obj(obj(schema["properties"])["error"])["allOf"]) {
		for _, c := range list(obj(obj(obj(part)["properties"])["code"])["enum"]) {
			s, _ := c.(string)
			codes = append(codes, s)
		}
	}
	return codes
}

// Every error answer of every operation lists the codes it may carry, and
// each code has exactly that status in apperr's table; 429 and 503 say
// Retry-After; every answer says X-Request-Id.
func TestResponsesMatchStatusTable(t *testing.T) {
	d := load(t)
	known := map[string]bool{}
	for _, c := range apperr.Codes() {
		known[string(c)] = true
	}
	for _, op := range d.operations(t) {
		responses := obj(op.op["responses"])
		if responses["500"] == nil {
			t.Errorf("%s: no 500 answer; every function can fail", op.key)
		}
		for status, r := range responses {
			resp := d.deref(t, r)
			n, err := strconv.Atoi(status)
			if err != nil {
				t.Errorf("%s: response %q is not a status", op.key, status)
				continue
			}
			if obj(resp["headers"])["X-Request-Id"] == nil {
				t.Errorf("%s %d: no X-Request-Id header", op.key, n)
			}
			if n < 400 {
				continue
			}
			codes := errorCodes(resp)
			if len(codes) == 0 {
				t.Errorf("%s %d: the body is not the error envelope with error.code narrowed by an enum", op.key, n)
			}
			for _, c := range codes {
				if !known[c] {
					t.Errorf("%s %d: %s is not an apperr code", op.key, n, c)
				} else if s := apperr.Status(apperr.Code(c)); s != n {
					t.Errorf("%s %d: %s has status %d in apperr, not %d", op.key, n, c, s, n)
				}
			}
			if (n == 429 || n == 503) && obj(resp["headers"])["Retry-After"] == nil {
				t.Errorf("%s %d: no Retry-After header", op.key, n)
			}
		}
	}
}

// commands are the holder's commands on the code: they, and only they,
// take an Idempotency-Key and answer 202 Accepted.
var commands = []string{codeapi.RouteIssue, codeapi.RouteReissue, codeapi.RouteSuspend, codeapi.RouteResume,
	codeapi.RouteCancel, codeapi.RouteRenew, codeapi.RouteUpdate}

// keyedFilings take an Idempotency-Key too (idempotency.Guard.Caller)
// but answer at once.
var keyedFilings = []string{declarationapi.RouteFile}

// authentication is how the functions authenticate their routes, by the
// document's security scheme names: the routes each scheme's check guards
// (codeapi's behind the session token, clearanceapi's behind
// apikey.Require) and the 401 answer its failures get. A route in none is
// public.
var authentication = map[string]struct {
	routes          []string
	unauthenticated string // the $ref of its 401
}{
	"sessionToken": {append(slices.Clone(commands), codeapi.RouteLookup, codeapi.RouteRequest, clearanceapi.RouteHolderChecks,
		declarationapi.RouteList, declarationapi.RouteConfirm, declarationapi.RouteDeny,
		declarationapi.RouteSetting, declarationapi.RouteSetSetting, identityapi.RouteRefreshSession), "#/components/responses/Unauthenticated"},
	"apiKey": {[]string{clearanceapi.RouteCheck, declarationapi.RouteFile, declarationapi.RouteGet, statsapi.RouteStats,
		campaignapi.RouteCreate, campaignapi.RouteGet, campaignapi.RouteConfirm, campaignapi.RoutePause, campaignapi.RouteResume, campaignapi.RouteCancel}, "#/components/responses/KeyUnauthenticated"},
}

// declaredSchemes returns the security schemes an operation's security
// list names, sorted; ok is false when the operation has no list.
func declaredSchemes(op map[string]any) (schemes []string, ok bool) {
	security, ok := op["security"].([]any)
	schemes = []string{}
	for _, req := range security {
		for name := range obj(req) {
			if !slices.Contains(schemes, name) {
				schemes = append(schemes, name)
			}
		}
	}
	sort.Strings(schemes)
	return schemes, ok
}

// Each operation declares the security its function checks: the scheme
// that guards it in the code, or none (`[]`) for a public route. An
// operation that declares a scheme answers 401, with that scheme's 401;
// a public one never does. Commands, and only they, answer 202
// Accepted; they and the keyed filings take an Idempotency-Key.
func TestSecurityAndIdempotency(t *testing.T) {
	d := load(t)
	defined := obj(at(t, map[string]any(d), "components", "securitySchemes"))
	used := map[string]bool{}
	for _, op := range d.operations(t) {
		declared, ok := declaredSchemes(op.op)
		if !ok {
			t.Errorf("%s: no security list; say [] for a public route", op.key)
		}
		if n := len(list(op.op["security"])); n > 1 {
			// Alternatives would mean either credential works; no route takes two.
			t.Errorf("%s: %d alternative security requirements; the code checks one", op.key, n)
		}
		want := []string{}
		for name, a := range authentication {
			if slices.Contains(a.routes, op.key) {
				want = append(want, name)
			}
		}
		sort.Strings(want)
		if !reflect.DeepEqual(declared, want) {
			t.Errorf("%s: declares security %v; the code authenticates it with %v", op.key, declared, want)
		}
		r401 := obj(obj(op.op["responses"])["401"])
		if has401 := r401 != nil; has401 != (len(declared) > 0) {
			t.Errorf("%s: answers 401 = %v but declares security %v", op.key, has401, declared)
		}
		for _, name := range declared {
			used[name] = true
			if defined[name] == nil {
				t.Errorf("%s: security scheme %s is not in components.securitySchemes", op.key, name)
			}
			if a, known := authentication[name]; known && r401 != nil && r401["$ref"] != a.unauthenticated {
				t.Errorf("%s: 401 is %v; a failed %s gets %s", op.key, r401["$ref"], name, a.unauthenticated)
			}
		}
		key := false
		for _, p := range list(op.op["parameters"]) {
			if obj(d.deref(t, p))["name"] == "Idempotency-Key" {
				key = true
			}
		}
		accepted := obj(obj(op.op["responses"])["202"])["$ref"] == "#/components/responses/Accepted"
		isCommand := slices.Contains(commands, op.key)
		keyed := isCommand || slices.Contains(keyedFilings, op.key)
		if key != keyed || accepted != isCommand {
			t.Errorf("%s: Idempotency-Key %v (want %v), 202 Accepted %v (want %v)", op.key, key, keyed, accepted, isCommand)
		}
	}
	for name := range defined {
		if !used[name] {
			t.Errorf("security scheme %s is defined but no operation declares it", name)
		}
	}
}

// The security schemes say how the code reads the credentials: the
// session token as a bearer token, the API key as the whole Authorization
// value "ApiKey <key>"; and the key's 401 carries apikey's one message.
func TestSecuritySchemesMatchCode(t *testing.T) {
	d := load(t)
	bearer := obj(at(t, map[string]any(d), "components", "securitySchemes", "sessionToken"))
	if bearer["type"] != "http" || bearer["scheme"] != "bearer" {
		t.Errorf("sessionToken is %v %v, want http bearer", bearer["type"], bearer["scheme"])
	}
	key := obj(at(t, map[string]any(d), "components", "securitySchemes", "apiKey"))
	if key["type"] != "apiKey" || key["in"] != "header" || key["name"] != "Authorization" {
		t.Errorf("apiKey is %v in %v %v, want an apiKey in the Authorization header", key["type"], key["in"], key["name"])
	}
	if desc, _ := key["description"].(string); !strings.Contains(desc, "`Authorization: "+apikey.Scheme+" <key>`") {
		t.Errorf("apiKey's description does not say the header is `Authorization: %s <key>`", apikey.Scheme)
	}
	msg := at(t, map[string]any(d), "components", "responses", "KeyUnauthenticated", "content", "application/json", "example", "error", "message")
	if msg != apikey.Message {
		t.Errorf("KeyUnauthenticated's example says %q; every failed key gets %q", msg, apikey.Message)
	}
}

func schema(t *testing.T, d doc, name string) map[string]any {
	t.Helper()
	return obj(at(t, map[string]any(d), "components", "schemas", name))
}

func enum(t *testing.T, v map[string]any) []string {
	t.Helper()
	var out []string
	for _, e := range list(v["enum"]) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

func strs[S ~string](l ...S) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = string(s)
	}
	return out
}

// The enumerations are those the code accepts and answers.
func TestEnumsMatchCode(t *testing.T) {
	d := load(t)
	prop := func(s, p string) map[string]any { return obj(at(t, schema(t, d, s), "properties", p)) }
	var holderKinds []holder.Kind
	for _, k := range holder.Kinds() {
		// Expire and lapse are the daily job's, not requests a holder reads.
		if k != holder.Expire && k != holder.Lapse {
			holderKinds = append(holderKinds, k)
		}
	}
	tests := []struct {
		what      string
		got, want []string
	}{
		{"ErrorCode", enum(t, schema(t, d, "ErrorCode")), strs(apperr.Codes()...)},
		{"Limit", enum(t, schema(t, d, "Limit")), strs(apperr.Limits()...)},
		{"Carrier", enum(t, schema(t, d, "Carrier")), otp.Carriers},
		{"Reason", enum(t, schema(t, d, "Reason")), codeapi.Reasons},
		{"Verification.nextStep", enum(t, prop("Verification", "nextStep")), strs(identity.StepSMS)},
		{"Accepted.status", enum(t, prop("Accepted", "status")), []string{holder.RequestQueued}},
		{"Code.status", enum(t, prop("Code", "status")), strs(holder.Active, holder.Suspended, holder.Cancelled, holder.Expired)},
		{"Code.suspendedBy", enum(t, prop("Code", "suspendedBy")), strs(holder.ByHolder, holder.ByAuthority)},
		{"Request.kind", enum(t, prop("Request", "kind")), strs(holderKinds...)},
		{"Request.status", enum(t, prop("Request", "status")), []string{holder.RequestQueued, holder.RequestProcessing, holder.RequestSucceeded, holder.RequestFailed}},
		{"CheckResult.result", enum(t, prop("CheckResult", "result")), []string{clearance.Match, clearance.Mismatch}},
		{"DeclarationStatus", enum(t, schema(t, d, "DeclarationStatus")), strs(declaration.Statuses()...)},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: openapi.json has %v, the code %v", tt.what, tt.got, tt.want)
		}
	}
}

// jsonFields returns a struct's JSON member names and those it always
// writes (no omitempty).
func jsonFields(typ reflect.Type) (all, always []string) {
	all, always = []string{}, []string{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		all = append(all, name)
		if !strings.Contains(opts, "omitempty") {
			always = append(always, name)
		}
	}
	sort.Strings(all)
	sort.Strings(always)
	return all, always
}

func keys(m map[string]any) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func required(s map[string]any) []string {
	out := []string{}
	for _, r := range list(s["required"]) {
		out = append(out, fmt.Sprint(r))
	}
	sort.Strings(out)
	return out
}

// Every schema of a body has the members of the Go type that decodes or
// encodes it; an answer's schema requires exactly the members always
// written.
func TestSchemasMatchGoTypes(t *testing.T) {
	d := load(t)
	tests := []struct {
		schema string
		typ    any
		answer bool
	}{
		{"VerificationRequest", identityapi.VerificationRequest{}, false},
		{"Verification", identityapi.VerificationResponse{}, true},
		{"SendCodeRequest", identityapi.SendCodeRequest{}, false},
		{"ConfirmRequest", identityapi.ConfirmRequest{}, false},
		{"IssueRequest", holder.IssueInput{}, false},
		{"UpdateRequest", holder.UpdateInput{}, false},
		{"AddressInput", holder.AddressInput{}, false},
		{"ReissueRequest", codeapi.ReasonBody{}, false},
		{"ReasonRequest", codeapi.ReasonBody{}, false},
		{"EmptyRequest", codeapi.EmptyBody{}, false},
		{"Accepted", codeapi.Accepted{}, true},
		{"Address", holder.Address{}, true},
		{"Code", codeapi.CodeView{}, true},
		{"Request", codeapi.RequestView{}, true},
		{"CheckRequest", clearanceapi.CheckRequest{}, false},
		{"CheckResult", clearanceapi.CheckResponse{}, true},
		{"DeclarationRequest", declarationapi.FileRequest{}, false},
		{"DeclarationItemInput", declaration.ItemInput{}, false},
		{"DeclarationItem", declaration.Item{}, true},
		{"Declaration", declarationapi.View{}, true},
		{"DeclarationList", declarationapi.List{}, true},
		{"ConfirmationRequest", declarationapi.SettingRequest{}, false},
		{"ConfirmationSetting", declarationapi.Setting{}, true},
		{"HolderChecks", clearanceapi.HolderChecksResponse{}, true},
		{"HolderCheck", clearanceapi.HolderCheck{}, true},
		{"CampaignRequest", campaign.CreateBody{}, false},
		{"Campaign", campaignapi.View{}, true},
	}
	for _, tt := range tests {
		s := schema(t, d, tt.schema)
		all, always := jsonFields(reflect.TypeOf(tt.typ))
		if got := keys(obj(s["properties"])); !reflect.DeepEqual(got, all) {
			t.Errorf("%s has properties %v; %T has %v", tt.schema, got, tt.typ, all)
		}
		if !tt.answer {
			// Requests refuse unknown members (API.md), so must the schema.
			if s["additionalProperties"] != false {
				t.Errorf("%s: additionalProperties must be false, as the decoder refuses unknown fields", tt.schema)
			}
			continue
		}
		if got := required(s); !reflect.DeepEqual(got, always) {
			t.Errorf("%s requires %v; %T always writes %v", tt.schema, got, tt.typ, always)
		}
	}
}

// steps answers the SMS steps with fixed results, so the endpoints' own
// answers can be compared with their schemas.
type steps struct{}

func (steps) Send(context.Context, identity.SendInput) (identity.SendResult, error) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	return identity.SendResult{SentTo: "010-****-5678", ExpiresAt: at, ResendAfter: at}, nil
}

func (steps) Confirm(context.Context, string, string) (identity.ConfirmResult, error) {
	return identity.ConfirmResult{SessionToken: "t", ExpiresAt: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}, nil
}

// The SMS steps answer maps rather than types; their members are read from
// real answers of the endpoints.
func TestSMSAnswersMatchSchemas(t *testing.T) {
	d := load(t)
	tests := []struct {
		schema string
		ep     httpapi.Endpoint
		body   string
	}{
		{"CodeSent", identityapi.SendCode(steps{}), `{"carrier":"SKT","phone":"01012345678","birthDate":"19900101","sex":"M"}`},
		{"Session", identityapi.ConfirmCode(steps{}), `{"otp":"123456"}`},
	}
	for _, tt := range tests {
		req := &httpapi.Request{Event: events.APIGatewayV2HTTPRequest{Body: tt.body, PathParameters: map[string]string{"id": "v"}}}
		resp, err := tt.ep(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", tt.schema, err)
		}
		b, _ := json.Marshal(resp.Body)
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		s := schema(t, d, tt.schema)
		if want := keys(obj(s["properties"])); !reflect.DeepEqual(keys(got), want) {
			t.Errorf("%s has properties %v; the endpoint answers %v", tt.schema, want, keys(got))
		}
		if !reflect.DeepEqual(required(s), keys(got)) {
			t.Errorf("%s requires %v; the endpoint always answers %v", tt.schema, required(s), keys(got))
		}
	}
}

// Every 429 names its bound: the answer requires error.limit and narrows
// it to limits the code knows.
func TestTooManyRequestsNameTheirLimit(t *testing.T) {
	d := load(t)
	known := map[string]bool{}
	for _, l := range apperr.Limits() {
		known[string(l)] = true
	}
	seen := 0
	for _, op := range d.operations(t) {
		r := obj(op.op["responses"])["429"]
		if r == nil {
			continue
		}
		seen++
		resp := d.deref(t, r)
		schema := obj(obj(obj(obj(resp["content"])["application/json"])["schema"]))
		var limits []any
		required := false
		for _, part := range list(obj(obj(schema["properties"])["error"])["allOf"]) {
			limits = append(limits, list(obj(obj(obj(part)["properties"])["limit"])["enum"])...)
			for _, f := range list(obj(part)["required"]) {
				required = required || f == "limit"
			}
		}
		if !required || len(limits) == 0 {
			t.Errorf("%s 429: error.limit is not required and narrowed", op.key)
		}
		for _, l := range limits {
			if s, _ := l.(string); !known[s] {
				t.Errorf("%s 429: %v is not an apperr limit", op.key, l)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no operation answers 429")
	}
}
