package sim

import (
	"context"
	"encoding/json"
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

func TestBuiltInResidentsMatchThroughTheRealClient(t *testing.T) {
	// The client posts to {base}/v1/realname; the sim serves /bureau/v1/realname.
	mux := http.NewServeMux()
	mux.Handle("/bureau/", New(BuiltIn()).Handler())
	srv2 := httptest.NewServer(mux)
	defer srv2.Close()
	c := bureau.NewClient(srv2.URL+"/bureau", srv2.Client(), time.Second, 2)
	sawOld, sawNew, sawForeigner := false, false, false
	for i, r := range BuiltIn() {
		if err := r.validate(); err != nil {
			t.Fatalf("built-in %d: %v", i, err)
		}
		rrn, _ := identity.ParseRRN(r.RRN, time.Now())
		name, _ := identity.NormalizeName(r.Name)
		ok, err := c.Match(context.Background(), name, rrn)
		if err != nil || !ok {
			t.Fatalf("built-in %d does not match: %v %v", i, ok, err)
		}
		ok, err = c.Match(context.Background(), name+"X", rrn)
		if err != nil || ok {
			t.Fatalf("built-in %d matches a wrong name", i)
		}
		sawOld = sawOld || rrn.ChecksumValid() && !rrn.Foreigner()
		sawNew = sawNew || !rrn.ChecksumValid() && !rrn.Foreigner()
		sawForeigner = sawForeigner || rrn.Foreigner()
	}
	if !sawOld || !sawNew || !sawForeigner {
		t.Fatalf("built-ins lack a kind: old=%v new=%v foreigner=%v", sawOld, sawNew, sawForeigner)
	}
}

func TestLoadResidents(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	os.WriteFile(good, []byte(`[{"name":"KIM TEST","rrn":"850505-2345678","carrier":"KT","phone":"01000001234","birthDate":"19850505","sex":"F"}]`), 0o600)
	rs, err := LoadResidents(good)
	if err != nil || len(rs) != 1 || rs[0].Name != "KIM TEST" {
		t.Fatalf("%v %v", rs, err)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"name":"KIM TEST","rrn":"850505-2345678"},{"name":"LEE","rrn":"851399-1111111"}]`), 0o600)
	_, err = LoadResidents(bad)
	if err == nil || !strings.Contains(err.Error(), "entry 1") || strings.Contains(err.Error(), "851399") {
		t.Fatalf("err = %v", err)
	}
}

func TestOutboxHandler(t *testing.T) {
	var o Outbox
	o.Add("01000000001", "code 123456", time.Now())
	o.Add("01000000002", "other", time.Now())
	srv := httptest.NewServer(o.OutboxHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/_local/sms?phone=01000000001")
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Messages []Message }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if len(body.Messages) != 1 || body.Messages[0].Text != "code 123456" {
		t.Fatalf("%+v", body)
	}
	resp, _ = http.Get(srv.URL + "/_local/sms?phone=abc")
	if resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
