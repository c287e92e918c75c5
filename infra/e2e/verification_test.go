package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
)

// The marker resident: data that appears nowhere else, so finding any of it
// in a log line or a table dump is a leak.
const (
	markerName    = "QXMARKER ZEDWORTH"
	markerRRN     = "770707-5987654" // a foreigner born 1977
	markerCarrier = "KT"
	markerPhone   = "01098761234"
)

// markers are the forms in which the marker data could leak.
func markers() []string {
	digits := strings.ReplaceAll(markerRRN, "-", "")
	return []string{
		markerName, strings.ReplaceAll(markerName, " ", ""), strings.ToLower(markerName), "QXMARKER", "ZEDWORTH",
		markerRRN, digits, digits[6:], markerPhone,
	}
}

func writeResidents(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "residents.json")
	b, _ := json.Marshal([]map[string]string{{
		"name": markerName, "rrn": markerRRN, "carrier": markerCarrier,
		"phone": markerPhone, "birthDate": "19770707", "sex": "M",
	}})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRealNameCheck(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, map[string]string{"PCCC_LOCAL_RESIDENTS": writeResidents(t)})
		builtIn := sim.BuiltIn()[0]

		t.Run("built-in identity is verified", func(t *testing.T) {
			r := s.postJSON(t, "/v1/verifications", map[string]string{"name": builtIn.Name, "rrn": builtIn.RRN})
			if r.status != http.StatusCreated {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			id, _ := r.body["verificationId"].(string)
			exp, _ := r.body["expiresAt"].(string)
			if len(id) < 16 || r.body["nextStep"] != "sms" {
				t.Fatalf("body %s", r.raw)
			}
			at, err := time.Parse(time.RFC3339, exp)
			if err != nil || at.Location() != time.UTC || time.Until(at) <= 0 || time.Until(at) > 10*time.Minute+time.Minute {
				t.Fatalf("expiresAt %q", exp)
			}
			if r.header.Get("X-Request-Id") == "" {
				t.Fatal("no X-Request-Id")
			}
		})

		t.Run("resident from PCCC_LOCAL_RESIDENTS is verified, name case and spaces normalised", func(t *testing.T) {
			r := s.postJSON(t, "/v1/verifications", map[string]string{"name": " qxmarker  zedworth ", "rrn": strings.ReplaceAll(markerRRN, "-", "")})
			if r.status != http.StatusCreated {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
		})

		t.Run("wrong name and unknown number are indistinguishable", func(t *testing.T) {
			wrongName := s.postJSON(t, "/v1/verifications", map[string]string{"name": "NOT THE PERSON", "rrn": builtIn.RRN})
			unknown := s.postJSON(t, "/v1/verifications", map[string]string{"name": builtIn.Name, "rrn": "010101-3000000"})
			for _, r := range []reply{wrongName, unknown} {
				if r.status != http.StatusUnprocessableEntity || r.errCode != "VERIFICATION_FAILED" {
					t.Fatalf("status %d: %s", r.status, r.raw)
				}
			}
			strip := func(r reply) string {
				b := map[string]any{}
				_ = json.Unmarshal([]byte(r.raw), &b)
				delete(b, "requestId")
				out, _ := json.Marshal(b)
				return string(out)
			}
			if strip(wrongName) != strip(unknown) {
				t.Fatalf("bodies differ:\n%s\n%s", wrongName.raw, unknown.raw)
			}
			for _, h := range []string{"Content-Type", "Retry-After", "Cache-Control"} {
				if wrongName.header.Get(h) != unknown.header.Get(h) {
					t.Fatalf("header %s differs", h)
				}
			}
		})

		t.Run("bad input is a 400 naming the field", func(t *testing.T) {
			tests := []struct {
				name, contentType, body, field string
			}{
				{"malformed number", "application/json", `{"name":"HONG GILDONG","rrn":"12345"}`, "rrn"},
				{"impossible date", "application/json", `{"name":"HONG GILDONG","rrn":"990231-1234567"}`, "rrn"},
				{"bad G digit", "application/json", `{"name":"HONG GILDONG","rrn":"900101-A234567"}`, "rrn"},
				{"missing name", "application/json", `{"rrn":"900101-1234567"}`, "name"},
				{"not JSON", "application/json", `name=HONG`, "body"},
				{"JSON array", "application/json", `[]`, "body"},
				{"unknown field", "application/json", `{"name":"A","rrn":"900101-1234567","admin":true}`, "admin"},
				{"wrong type", "application/json", `{"name":1,"rrn":"900101-1234567"}`, "name"},
				{"duplicate key", "application/json", `{"name":"HONG GILDONG","rrn":"900101-1234567","rrn":"900101-2234567"}`, "rrn"},
				{"wrongly cased field", "application/json", `{"NAME":"HONG GILDONG","rrn":"900101-1234567"}`, "NAME"},
				{"form content type", "application/x-www-form-urlencoded", `name=A&rrn=1`, "Content-Type"},
				{"over 64 KiB", "application/json", `{"name":"` + strings.Repeat("A", 70<<10) + `","rrn":"900101-1234567"}`, "body"},
			}
			for _, tt := range tests {
				r := s.do(t, http.MethodPost, "/v1/verifications", tt.contentType, tt.body)
				if r.status != http.StatusBadRequest || r.errCode != "INVALID_ARGUMENT" {
					t.Errorf("%s: status %d: %.200s", tt.name, r.status, r.raw)
					continue
				}
				if _, ok := r.fields[tt.field]; !ok {
					t.Errorf("%s: fields %v do not name %q", tt.name, r.fields, tt.field)
				}
				if r.body["requestId"] == nil || r.body["requestId"] != r.header.Get("X-Request-Id") {
					t.Errorf("%s: requestId %v vs header %q", tt.name, r.body["requestId"], r.header.Get("X-Request-Id"))
				}
			}
		})

		t.Run("no input gets a 5xx", func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(kind))))
			pieces := []string{`{`, `}`, `"name"`, `"rrn"`, `:`, `,`, `"900101-1234567"`, `"홍길동"`, `null`, `[`, `]`, `1e999`, `"\u0000"`, `"` + strings.Repeat("9", 40) + `"`, `true`, `"A B"`, `-`, `\`}
			for i := 0; i < 150; i++ {
				var b strings.Builder
				for n := rng.IntN(12); n >= 0; n-- {
					b.WriteString(pieces[rng.IntN(len(pieces))])
				}
				r := s.do(t, http.MethodPost, "/v1/verifications", "application/json", b.String())
				if r.status >= 500 {
					t.Fatalf("body %q got %d: %s", b.String(), r.status, r.raw)
				}
			}
		})

		t.Run("healthz", func(t *testing.T) {
			r := s.do(t, http.MethodGet, "/healthz", "", "")
			if r.status != 200 || r.body["status"] != "ok" {
				t.Fatalf("healthz %d %s", r.status, r.raw)
			}
		})

		t.Run("no marker data in any log line or in the tables", func(t *testing.T) {
			// Drive the flow once more with the marker identity, right and
			// wrong, so every path has had the chance to log it.
			s.postJSON(t, "/v1/verifications", map[string]string{"name": markerName, "rrn": markerRRN})
			s.postJSON(t, "/v1/verifications", map[string]string{"name": "QXMARKER WRONGNAME", "rrn": markerRRN})
			s.postJSON(t, "/v1/verifications", map[string]string{"name": markerName, "rrn": markerRRN[:5]})
			logs := s.logs.String()
			if !strings.Contains(logs, "requestId") {
				t.Fatalf("the logs captured nothing useful: %.300s", logs)
			}
			dump := dumpTables(t, s.stack)
			if !strings.Contains(dump, "VER#") {
				t.Fatalf("the table dump holds no verification: %.300s", dump)
			}
			for _, m := range markers() {
				if i := strings.Index(logs, m); i >= 0 {
					t.Errorf("log contains marker %q: %s", m, around(logs, i))
				}
				if i := strings.Index(dump, m); i >= 0 {
					t.Errorf("table dump contains marker %q: %s", m, around(dump, i))
				}
			}
		})
	})
}

func around(s string, i int) string {
	lo, hi := max(0, i-120), min(len(s), i+120)
	return s[lo:hi]
}

// dumpTables scans every table of the stack into one string.
func dumpTables(t *testing.T, stack *localstack.Stack) string {
	t.Helper()
	ctx := context.Background()
	c, err := stack.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := c.DynamoDB.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, name := range tables.TableNames {
		p := dynamodb.NewScanPaginator(c.DynamoDB, &dynamodb.ScanInput{TableName: aws.String(name)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, item := range page.Items {
				fmt.Fprintf(&b, "%s %v\n", name, itemString(item))
			}
		}
	}
	return b.String()
}

// itemString renders an item with every value in plain text, so that a
// marker stored in clear in any attribute type would show.
func itemString(item map[string]types.AttributeValue) string {
	var m map[string]any
	if err := attributevalue.UnmarshalMap(item, &m); err != nil {
		return fmt.Sprintf("unreadable item: %v", err)
	}
	b, _ := json.Marshal(m)
	// Binary attributes become base64 in JSON; add their raw bytes too.
	var raw strings.Builder
	for _, v := range item {
		if bv, ok := v.(*types.AttributeValueMemberB); ok {
			raw.Write(bv.Value)
		}
	}
	return string(b) + " " + raw.String()
}
