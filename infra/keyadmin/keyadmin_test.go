package keyadmin

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/operator"
	"github.com/pccc/pccc/shared/apikey"
)

// store is a fake Store over a map.
type store struct{ keys map[string]apikey.Record }

func (s *store) Create(_ context.Context, r apikey.Record) error {
	if _, ok := s.keys[r.ID]; ok {
		return apikey.ErrExists
	}
	s.keys[r.ID] = r
	return nil
}

func (s *store) Revoke(_ context.Context, id string, at time.Time) error {
	r, ok := s.keys[id]
	if !ok {
		return apikey.ErrNoKey
	}
	r.Revoked, r.RevokedAt = true, at
	s.keys[id] = r
	return nil
}

func (s *store) List(context.Context) ([]apikey.Record, error) {
	var out []apikey.Record
	for _, r := range s.keys {
		out = append(out, r)
	}
	return out, nil
}

var _ Store = (*store)(nil)

func TestRun(t *testing.T) {
	st := &store{keys: map[string]apikey.Record{}}
	now := func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := Run(context.Background(), st, args, now, &out, &errOut)
		return out.String(), err
	}
	out, err := run("create", "-owner", "ACME Customs", "-rate", "10")
	if err != nil {
		t.Fatal(err)
	}
	var id, key string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "key id: "); ok {
			id = v
		}
		if v, ok := strings.CutPrefix(line, "key:    "); ok {
			key = v
		}
	}
	gotID, secret, ok := apikey.Parse(key)
	rec := st.keys[id]
	if !ok || gotID != id || rec.Owner != "ACME Customs" || rec.RatePerMinute != 10 || rec.Hash != apikey.Hash(id, secret) || rec.Role != apikey.Broker {
		t.Fatalf("create printed %q, stored %+v", out, rec)
	}
	out, err = run("create", "-owner", "Korea Customs Service", "-role", "authority")
	if err != nil || !strings.Contains(out, "role:   authority") {
		t.Fatalf("create an authority key: %q %v", out, err)
	}
	if out, err := run("list"); err != nil || !strings.Contains(out, id) || !strings.Contains(out, "active") || strings.Contains(out, secret) {
		t.Fatalf("list: %q %v", out, err)
	}
	if _, err := run("revoke", id); err != nil || !st.keys[id].Revoked {
		t.Fatalf("revoke: %v", err)
	}
	if out, _ := run("list"); !strings.Contains(out, "revoked 2026-12-01T00:00:00Z") {
		t.Fatalf("list after revoke: %q", out)
	}
	for _, args := range [][]string{
		{}, {"delete", id}, {"revoke"}, {"revoke", "nothex"}, {"revoke", "0123456789abcdef"}, {"list", "x"},
		{"create"}, {"create", "-owner", "A", "-rate", "0"}, {"create", "-owner", "A", "extra"}, {"create", "-bogus"},
		{"create", "-owner", "A", "-role", "admin"},
	} {
		if _, err := run(args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}

func TestMainNeedsATable(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := Main(context.Background(), []string{"list"}, func(string) string { return "" }, &out, &errOut); err == nil || !strings.Contains(err.Error(), "table") {
		t.Fatalf("no table: %v", err)
	}
}

func TestLoopback(t *testing.T) {
	for ep, want := range map[string]bool{
		"http://127.0.0.1:8000": true, "http://localhost:4566": true, "http://[::1]:8000": true,
		"https://dynamodb.ap-northeast-2.amazonaws.com": false, "": false, "127.0.0.1:8000": false, "http://10.0.0.1": false,
	} {
		if got := operator.Loopback(ep); got != want {
			t.Errorf("Loopback(%q) = %v", ep, got)
		}
	}
}
