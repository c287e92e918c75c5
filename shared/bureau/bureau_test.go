package bureau

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/resilience"
)

func mustRRN(t *testing.T, s string) identity.RRN {
	t.Helper()
	r, err := identity.ParseRRN(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// bureauServer answers like a bureau that knows one person. It counts
// requests. (Retries, timeouts and the breaker are shared/gateway's, tested
// there.)
type bureauServer struct {
	*httptest.Server
	hits atomic.Int64
}

func newBureauServer(t *testing.T) *bureauServer {
	b := &bureauServer{}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/realname" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad route", http.StatusNotFound)
			return
		}
		var req RealNameRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(RealNameResponse{Match: req.Name == "HONGGILDONG" && req.RRN == "9001011234568"})
	}))
	t.Cleanup(b.Close)
	return b
}

func newClient(t *testing.T, url string, timeout time.Duration, br *resilience.Breaker) *Client {
	t.Helper()
	c, err := New(Options{BaseURL: url + "/api/", Timeout: timeout, Attempts: 2, Breaker: br})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMatch(t *testing.T) {
	srv := newBureauServer(t)
	c := newClient(t, srv.URL, time.Second, nil)
	tests := []struct {
		name, person, rrn string
		want              bool
	}{
		{"match", "HONGGILDONG", "900101-1234568", true},
		{"wrong name", "HONGGILDON", "900101-1234568", false},
		{"unknown number", "HONGGILDONG", "900101-1234567", false},
	}
	for _, tt := range tests {
		got, err := c.Match(context.Background(), tt.person, mustRRN(t, tt.rrn))
		if err != nil || got != tt.want {
			t.Errorf("%s: Match = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	if srv.hits.Load() != int64(len(tests)) {
		t.Fatalf("%d hits for %d checks", srv.hits.Load(), len(tests))
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "bureau.local", "ftp://x"} {
		if _, err := New(Options{BaseURL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

func TestUnreachableBureauIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	c := newClient(t, url, 200*time.Millisecond, nil)
	_, err := c.Match(context.Background(), "HONGGILDONG", mustRRN(t, "900101-1234568"))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
}
