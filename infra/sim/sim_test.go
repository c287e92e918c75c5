package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/bureau"
	"github.com/pccc/pccc/shared/identity"
)

// serve mounts the simulator the way the local runner does, under a prefix.
func serve(t *testing.T, s *Sim) (*httptest.Server, *bureau.Client) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/_sim/", http.StripPrefix("/_sim", s.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := bureau.New(bureau.Options{BaseURL: srv.URL + "/_sim/bureau", HTTP: srv.Client(), Timeout: time.Second, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func match(t *testing.T, c *bureau.Client, name, rrn string) bool {
	t.Helper()
	n, err := identity.NormalizeName(name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := identity.ParseRRN(rrn)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := c.Match(context.Background(), identity.NameKey(n), r)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestBuiltInResidentsMatchThroughTheRealClient(t *testing.T) {
	_, c := serve(t, New(BuiltIn()))
	var oldValid, newFails, foreigner int
	for i, r := range BuiltIn() {
		checked := r
		if err := checked.normalize(); err != nil {
			t.Fatalf("built-in %d: %v", i, err)
		}
		if checked != r {
			t.Fatalf("built-in %d is not in canonical form", i)
		}
		if !match(t, c, r.Name, r.RRN) {
			t.Fatalf("built-in %d does not match", i)
		}
		// Case and spacing do not matter; one more letter does.
		if !match(t, c, "  "+strings.ToLower(strings.ReplaceAll(r.Name, " ", ""))+" ", strings.ReplaceAll(r.RRN, "-", "")) {
			t.Fatalf("built-in %d does not match in another spelling", i)
		}
		if match(t, c, r.Name+"A", r.RRN) {
			t.Fatalf("built-in %d matches a wrong name", i)
		}
		rrn, _ := identity.ParseRRN(r.RRN)
		switch {
		case rrn.Foreigner():
			foreigner++
		case rrn.ChecksumValid():
			oldValid++
		default:
			newFails++
		}
		if !strings.HasPrefix(r.Phone, "0100000") {
			t.Fatalf("built-in %d has a phone that could be real", i)
		}
	}
	if oldValid < 2 || newFails < 1 || foreigner < 1 {
		t.Fatalf("built-ins cover %d old valid, %d post-2020, %d foreigners", oldValid, newFails, foreigner)
	}
	if match(t, c, "HONG GILDONG", "010101-3000000") {
		t.Fatal("unknown number matched")
	}
}

func TestBureauProtocolEdges(t *testing.T) {
	s := New(BuiltIn())
	srv, c := serve(t, s)
	tests := []struct {
		name, body string
		want       int
	}{
		{"not json", `{`, http.StatusBadRequest},
		{"unknown field", `{"name":"A","rrn":"9001011234568","x":1}`, http.StatusBadRequest},
		{"short rrn", `{"name":"A","rrn":"900101"}`, http.StatusBadRequest},
		{"no name", `{"rrn":"9001011234568"}`, http.StatusBadRequest},
		{"ok", `{"name":"HONGGILDONG","rrn":"9001011234568"}`, http.StatusOK},
	}
	for _, tt := range tests {
		resp, err := http.Post(srv.URL+"/_sim/bureau/v1/realname", "application/json", strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, resp.StatusCode, tt.want)
		}
	}
	if resp, _ := http.Get(srv.URL + "/_sim/bureau/v1/realname"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d", resp.StatusCode)
	}

	s.SetBureauDown(true)
	r, _ := identity.ParseRRN("900101-1234568")
	if _, err := c.Match(context.Background(), "HONGGILDONG", r); err == nil {
		t.Fatal("a down bureau answered")
	}
	s.SetBureauDown(false)
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "residents.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadResidents(t *testing.T) {
	entry := func(name, rrn, carrier, phone, birth, sex string) string {
		b, _ := json.Marshal(Resident{Name: name, RRN: rrn, Carrier: carrier, Phone: phone, BirthDate: birth, Sex: sex})
		return string(b)
	}
	good := entry("KIM TEST", "850505-2345678", "KT", "010-0000-1234", "19850505", "F")
	tests := []struct {
		name    string
		content string
		wantErr string // "" = ok
	}{
		{"ok", "[" + good + "]", ""},
		{"derives birth date and sex", "[" + entry("QXMARKER ZEDWORTH", "7707075987654", "KT", "01098761234", "", "") + "]", ""},
		{"empty list", "[]", ""},
		{"not an array", `{"name":"x"}`, "JSON array"},
		{"unknown field", `[{"name":"KIM TEST","nickname":"SECRETNICK"}]`, "JSON array"},
		{"bad name", "[" + good + "," + entry("KIM 2", "850505-2345678", "KT", "01000001234", "", "") + "]", "entry 1: name"},
		{"bad rrn", "[" + entry("KIM TEST", "851305-2345678", "KT", "01000001234", "", "") + "]", "entry 0: rrn"},
		{"bad carrier", "[" + entry("KIM TEST", "850505-2345678", "VODAFONE", "01000001234", "", "") + "]", "entry 0: carrier"},
		{"bad phone", "[" + entry("KIM TEST", "850505-2345678", "KT", "0212345678", "", "") + "]", "entry 0: phone"},
		{"birth date disagrees", "[" + entry("KIM TEST", "850505-2345678", "KT", "01000001234", "19850506", "") + "]", "entry 0: birthDate"},
		{"sex disagrees", "[" + entry("KIM TEST", "850505-2345678", "KT", "01000001234", "", "M") + "]", "entry 0: sex"},
		{"repeated number", "[" + good + "," + good + "]", "entry 1: rrn repeats entry 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := LoadResidents(writeFile(t, tt.content))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					if r.BirthDate == "" || r.Sex == "" || strings.Contains(r.Phone, "-") || len(r.RRN) != 14 {
						t.Fatalf("not normalised: %+v", []string{r.BirthDate, r.Sex, r.Phone})
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
			}
			for _, leak := range []string{"KIM", "2345678", "850505", "01000001234", "VODAFONE", "SECRETNICK", "0212345678"} {
				if strings.Contains(err.Error(), leak) {
					t.Fatalf("error %q echoes data %q", err, leak)
				}
			}
		})
	}
	if _, err := LoadResidents(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestResidentsFromFileMatchAndOverride(t *testing.T) {
	// The file gives HONG GILDONG's number to someone else: the later entry wins.
	p := writeFile(t, `[{"name":"qxmarker  zedworth","rrn":"770707-5987654","carrier":"KT","phone":"01098761234"},
		{"name":"PARK OVERRIDE","rrn":"9001011234568","carrier":"SKT","phone":"01000000009"}]`)
	rs, err := LoadResidents(p)
	if err != nil {
		t.Fatal(err)
	}
	s := New(append(BuiltIn(), rs...))
	_, c := serve(t, s)
	if !match(t, c, "QXMARKER ZEDWORTH", "7707075987654") {
		t.Fatal("file resident does not match")
	}
	if !match(t, c, "PARK OVERRIDE", "900101-1234568") || match(t, c, "HONG GILDONG", "900101-1234568") {
		t.Fatal("later entry did not override")
	}
	if r, ok := s.Lookup("7707075987654"); !ok || r.Carrier != "KT" || r.Sex != "M" || r.BirthDate != "19770707" {
		t.Fatal("Lookup")
	}
	if got := fmt.Sprintf("%v %+v %#v", rs[0], rs, rs[0]); strings.Contains(got, "QXMARKER") || strings.Contains(got, "5987654") {
		t.Fatalf("printing a resident shows its data: %s", got)
	}
}

func TestOutbox(t *testing.T) {
	var o Outbox
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("KST", 9*3600))
	o.Add("010-0000-0001", "code 111111", at)
	o.Add("01000000002", "code 222222", at.Add(time.Second))
	o.Add("01000000001", "code 333333", at.Add(2*time.Second))
	srv := httptest.NewServer(o.OutboxHandler())
	defer srv.Close()

	tests := []struct {
		name, query string
		status      int
		texts       []string
	}{
		{"two messages in order", "phone=01000000001", 200, []string{"code 111111", "code 333333"}},
		{"dashes accepted", "phone=010-0000-0002", 200, []string{"code 222222"}},
		{"none", "phone=01000000003", 200, []string{}},
		{"missing phone", "", 400, nil},
		{"malformed phone", "phone=12345", 400, nil},
	}
	for _, tt := range tests {
		resp, err := http.Get(srv.URL + "/_local/sms?" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Messages []Message `json:"messages"`
			Error    struct {
				Code   string            `json:"code"`
				Fields map[string]string `json:"fields"`
			} `json:"error"`
		}
		raw := json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if raw != nil || resp.StatusCode != tt.status {
			t.Fatalf("%s: status %d, decode %v", tt.name, resp.StatusCode, raw)
		}
		if tt.status == 400 {
			if body.Error.Code != "INVALID_ARGUMENT" || body.Error.Fields["phone"] == "" {
				t.Fatalf("%s: error %+v", tt.name, body.Error)
			}
			continue
		}
		if body.Messages == nil || len(body.Messages) != len(tt.texts) {
			t.Fatalf("%s: messages %d, want %d", tt.name, len(body.Messages), len(tt.texts))
		}
		for i, m := range body.Messages {
			if m.Text != tt.texts[i] || m.SentAt.Location() != time.UTC || !strings.HasPrefix(m.To, "010") {
				t.Fatalf("%s: message %d = %+v", tt.name, i, m)
			}
		}
	}
	if resp, _ := http.Post(srv.URL+"/_local/sms?phone=01000000001", "text/plain", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
}

func TestOutboxIsBounded(t *testing.T) {
	var o Outbox
	for i := 0; i < maxOutbox+5; i++ {
		o.Add("01000000001", fmt.Sprint(i), time.Unix(int64(i), 0))
	}
	got := o.List("01000000001")
	if len(got) != maxOutbox || got[0].Text != "5" || got[len(got)-1].Text != fmt.Sprint(maxOutbox+4) {
		t.Fatalf("len %d first %s", len(got), got[0].Text)
	}
}
