package e2e

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/openapi"
)

// TestOpenAPIDocumentServed reads the API document from the running system
// and holds every route it describes to it: each call gets one of the
// statuses the document lists for that operation, errors come in the
// documented envelope with the request id, commands in the documented 202
// shape, and a command sent again with its Idempotency-Key is replayed.
// The calls go first without credentials and with empty bodies (an
// operation that declares security must answer 401), then with the
// credentials each operation declares (a holder's session token, an API
// key made with the operator's command) and the document's own examples.
// Neither depends on the stack, so one stack is enough.
func TestOpenAPIDocumentServed(t *testing.T) {
	s := start(t, localstack.Embedded, sessionEnv(nil))

	r := s.do(t, http.MethodGet, "/v1/openapi.json", "", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/openapi.json: %d %s", r.status, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := r.header.Get("Cache-Control"); cc != openapi.CacheControl {
		t.Errorf("Cache-Control = %q, want %q", cc, openapi.CacheControl)
	}
	var stored map[string]any
	if err := json.Unmarshal(openapi.Document(), &stored); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.body, stored) {
		t.Fatal("the served document differs from shared/openapi/openapi.json")
	}

	ops := documentedOperations(r.body)
	if len(ops) < 2 {
		t.Fatalf("only %d operations found: the document's paths were not read", len(ops))
	}
	t.Run("anonymous, empty bodies", func(t *testing.T) {
		for _, op := range ops {
			body := ""
			if op.hasBody {
				body = "{}"
			}
			got := s.send(t, op.method, op.target, op.headers(t, nil, "", body), body)
			op.check(t, got)
			if len(op.security) > 0 && got.status != http.StatusUnauthorized {
				t.Errorf("%s: declares %v but answered %d without credentials: %s", op.key, op.security, got.status, got.raw)
			}
		}
	})
	t.Run("with the declared credentials, the document's examples", func(t *testing.T) {
		token := mint(t, "HOLDER-openapi-e2e")
		key, _ := newKey(t, s, "OpenAPI e2e broker", 100)
		// By security scheme: the Authorization value each one takes.
		credentials := map[string]string{"sessionToken": "Bearer " + token, "apiKey": "ApiKey " + key}
		// The authority's routes take an API key of the authority's role.
		authority := map[string]string{"apiKey": "ApiKey " + s.makeKey(t, "OpenAPI e2e authority", "authority")}
		// The issue first, and carried out, so the other commands meet a
		// live code; the cancel last, so they do not meet a cancelled one.
		sort.SliceStable(ops, func(i, j int) bool { return rank(ops[i].key) < rank(ops[j].key) })
		for i, op := range ops {
			key := ""
			if op.idempotent {
				key = "openapi-e2e-" + strconv.Itoa(i)
			}
			creds, forAuthority := credentials, strings.HasPrefix(op.target, "/v1/authority/")
			if forAuthority {
				creds = authority
			}
			headers := op.headers(t, creds, key, op.example)
			first := s.send(t, op.method, op.target, headers, op.example)
			op.check(t, first)
			if len(op.security) > 0 && (first.status == http.StatusUnauthorized || first.errCode == "FORBIDDEN") {
				t.Errorf("%s: with the %v credentials it declares, answered %d: %s", op.key, op.security, first.status, first.raw)
			}
			if forAuthority {
				// A campaign is created (201) from the example; the other
				// routes name a placeholder campaign (404).
				if want := map[bool]int{true: http.StatusCreated, false: http.StatusNotFound}[op.key == "POST /v1/authority/campaigns"]; op.method == http.MethodPost && first.status != want {
					t.Errorf("%s: with an authority key and the example, answered %d, want %d: %s", op.key, first.status, want, first.raw)
				}
			} else if slices.Contains(op.security, "apiKey") && op.method == http.MethodPost && first.status != http.StatusOK {
				// The example is well formed and the key fresh: the check is
				// answered (a filing's example names no live code: the
				// check's mismatch). A read of a placeholder id is 404.
				t.Errorf("%s: with a working key and the example, answered %d, want 200: %s", op.key, first.status, first.raw)
			}
			if key == "" || first.status != http.StatusAccepted {
				continue
			}
			if op.key == "POST /v1/codes" {
				rid, _ := first.body["requestId"].(string)
				s.succeeded(t, token, rid)
			}
			again := s.send(t, op.method, op.target, headers, op.example)
			if again.status != first.status || again.header.Get("Idempotent-Replayed") != "true" || again.body["requestId"] != first.body["requestId"] {
				t.Errorf("%s: the same Idempotency-Key and body answered %d %s (Idempotent-Replayed %q), not the first answer again",
					op.key, again.status, again.raw, again.header.Get("Idempotent-Replayed"))
			}
		}
	})
}

// documentedOperation is one operation of the served document, ready to
// call.
type documentedOperation struct {
	doc                 map[string]any
	key, method, target string
	responses           map[string]any
	hasBody, idempotent bool
	example             string   // the request example as JSON, "" when none
	security            []string // the security schemes it declares, none for a public route
}

// headers are a call's headers: the Authorization value of each security
// scheme the operation declares, from credentials (nil: none sent), and
// the Idempotency-Key when key is not "".
func (op documentedOperation) headers(t *testing.T, credentials map[string]string, key, body string) map[string]string {
	t.Helper()
	h := map[string]string{}
	if body != "" {
		h["Content-Type"] = "application/json"
	}
	for _, scheme := range op.security {
		if credentials == nil {
			break
		}
		v, ok := credentials[scheme]
		if !ok {
			t.Fatalf("%s: declares security scheme %s, which this test has no credentials for", op.key, scheme)
		}
		h["Authorization"] = v
	}
	if key != "" {
		h["Idempotency-Key"] = key
	}
	return h
}

// documentedOperations lists the document's operations in path order, with
// placeholders for path parameters (no such verification, request or
// campaign).
func documentedOperations(doc map[string]any) []documentedOperation {
	placeholders := strings.NewReplacer("{id}", "NoSuchVerification0000", "{requestId}", "NoSuchRequest000000000", "{campaignId}", "NoSuchCampaign00000000")
	paths, _ := doc["paths"].(map[string]any)
	var out []documentedOperation
	for p, v := range paths {
		item, _ := v.(map[string]any)
		for method, v := range item {
			op, _ := v.(map[string]any)
			responses, _ := op["responses"].(map[string]any)
			if responses == nil {
				continue // path-level members, not operations
			}
			d := documentedOperation{doc: doc, key: strings.ToUpper(method) + " " + p, method: strings.ToUpper(method),
				target: placeholders.Replace(p), responses: responses, hasBody: op["requestBody"] != nil}
			for _, prm := range asList(op["parameters"]) {
				if ref, _ := asMap(prm)["$ref"].(string); ref == "#/components/parameters/IdempotencyKey" {
					d.idempotent = true
				}
			}
			for _, req := range asList(op["security"]) {
				for scheme := range asMap(req) {
					d.security = append(d.security, scheme)
				}
			}
			sort.Strings(d.security)
			rb := asMap(asMap(asMap(op["requestBody"])["content"])["application/json"])
			if ex, ok := rb["example"]; ok {
				b, _ := json.Marshal(ex)
				d.example = string(b)
			}
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

func (op documentedOperation) check(t *testing.T, got reply) {
	t.Helper()
	t.Logf("%s: %d %s", op.key, got.status, got.errCode)
	if op.responses[strconv.Itoa(got.status)] == nil {
		t.Errorf("%s: answered %d, which the document does not list: %s", op.key, got.status, got.raw)
		return
	}
	id := got.header.Get("X-Request-Id")
	if id == "" {
		t.Errorf("%s: no X-Request-Id", op.key)
	}
	// The answer's members are the schema's, and those it requires are there.
	if schema := op.schemaOf(op.responses[strconv.Itoa(got.status)]); schema != nil && got.status < 400 {
		props := asMap(schema["properties"])
		for k := range got.body {
			if props != nil && props[k] == nil {
				t.Errorf("%s: %d answers %q, which its schema does not have", op.key, got.status, k)
			}
		}
		for _, k := range asList(schema["required"]) {
			if _, ok := got.body[k.(string)]; !ok {
				t.Errorf("%s: %d lacks %q, which its schema requires: %s", op.key, got.status, k, got.raw)
			}
		}
		// A member the schema narrows to an enum has one of its values.
		for k, v := range got.body {
			if values := asList(op.deref(asMap(props[k]))["enum"]); values != nil && !slices.Contains(values, v) {
				t.Errorf("%s: %d answers %q = %v, not one of %v", op.key, got.status, k, v, values)
			}
		}
	}
	switch {
	case got.status >= 400:
		e, _ := got.body["error"].(map[string]any)
		if got.errCode == "" || e["message"] == nil || got.body["requestId"] != id {
			t.Errorf("%s: %d is not the documented error envelope with the request id: %s", op.key, got.status, got.raw)
		}
	case got.status == http.StatusAccepted && op.idempotent:
		rid, _ := got.body["requestId"].(string)
		if rid == "" || got.body["status"] != "queued" || got.body["statusUrl"] != "/v1/requests/"+rid {
			t.Errorf("%s: 202 is not the documented Accepted answer: %s", op.key, got.raw)
		}
	}
}

// schemaOf returns the JSON schema of a response (following $refs), nil
// when there is none.
func (op documentedOperation) schemaOf(resp any) map[string]any {
	return op.deref(asMap(asMap(asMap(op.deref(asMap(resp))["content"])["application/json"])["schema"]))
}

// deref follows a local $ref ("#/components/...").
func (op documentedOperation) deref(m map[string]any) map[string]any {
	ref, ok := m["$ref"].(string)
	if !ok {
		return m
	}
	var v any = op.doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		v = asMap(v)[strings.NewReplacer("~1", "/", "~0", "~").Replace(part)]
	}
	return asMap(v)
}

// rank orders the holder pass: issue first, cancel last, the rest between.
func rank(key string) int {
	switch key {
	case "POST /v1/codes":
		return 0
	case "POST /v1/codes/me/cancel":
		return 2
	}
	return 1
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }

func asList(v any) []any { l, _ := v.([]any); return l }
