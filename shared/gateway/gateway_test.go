package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/resilience"
	"github.com/pccc/pccc/shared/testkit"
)

// The fail-fast behaviour every adapter (bureau, carrier) gets from this
// one Client, tested once here; the adapters test only their wire types.

type question struct {
	Name string `json:"name"`
	RRN  string `json:"rrn"`
}

type answer struct {
	Match bool `json:"match"`
}

// errOutage is the adapter's sentinel in these tests.
var errOutage = errors.New("service unavailable")

// service answers like one that knows one person; behave, when set,
// overrides the answer. It counts requests.
type service struct {
	*httptest.Server
	hits   atomic.Int64
	mu     sync.Mutex
	behave func(w http.ResponseWriter, r *http.Request) bool
}

func newService(t *testing.T) *service {
	s := &service{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		behave := s.behave
		s.mu.Unlock()
		if behave != nil && behave(w, r) {
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/ask" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad route", http.StatusNotFound)
			return
		}
		var q question
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		_ = json.NewEncoder(w).Encode(answer{Match: q.Name == "HONGGILDONG" && q.RRN == "9001011234568"})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *service) set(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behave = f
}

func newClient(t *testing.T, url string, timeout time.Duration, br *resilience.Breaker) *Client {
	t.Helper()
	c, err := New(Options{Service: "test", URL: url + "/ask", Timeout: timeout, Attempts: 2, Breaker: br, Unavailable: errOutage})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var hong = question{Name: "HONGGILDONG", RRN: "9001011234568"}

func ask(c *Client, q question) (bool, error) {
	var a answer
	err := c.Post(context.Background(), q, &a)
	return a.Match, err
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "service.local", "ftp://x"} {
		if _, err := New(Options{Service: "test", URL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

func TestRetriesAndRefusals(t *testing.T) {
	tests := []struct {
		name        string
		behave      func(n int64, w http.ResponseWriter) bool // n counts from 1
		wantMatch   bool
		unavailable bool
		otherErr    bool
		wantHits    int64
	}{
		{"5xx then answer is retried", func(n int64, w http.ResponseWriter) bool {
			if n == 1 {
				w.WriteHeader(http.StatusBadGateway)
				return true
			}
			return false
		}, true, false, false, 2},
		{"garbled answer is retried", func(n int64, w http.ResponseWriter) bool {
			if n == 1 {
				_, _ = w.Write([]byte("<html>"))
				return true
			}
			return false
		}, true, false, false, 2},
		{"5xx twice is unavailable", func(n int64, w http.ResponseWriter) bool {
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}, false, true, false, 2},
		{"4xx is not retried and is not an outage", func(n int64, w http.ResponseWriter) bool {
			w.WriteHeader(http.StatusBadRequest)
			return true
		}, false, false, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newService(t)
			var n atomic.Int64
			srv.set(func(w http.ResponseWriter, r *http.Request) bool { return tt.behave(n.Add(1), w) })
			br := resilience.NewBreaker(1, time.Minute, nil)
			c := newClient(t, srv.URL, time.Second, br)
			got, err := ask(c, hong)
			var un *identity.UnavailableError
			isUn := errors.As(err, &un)
			if got != tt.wantMatch || isUn != tt.unavailable || (err != nil && !isUn) != tt.otherErr {
				t.Fatalf("Post = %v, %v", got, err)
			}
			if isUn && (!errors.Is(err, errOutage) || un.RetryAfter <= 0) {
				t.Fatalf("unavailable error %v lacks the sentinel or RetryAfter", err)
			}
			if srv.hits.Load() != tt.wantHits {
				t.Fatalf("hits %d, want %d", srv.hits.Load(), tt.wantHits)
			}
			// Errors end up in logs: they name the service and status, never the body.
			if err != nil && (strings.Contains(err.Error(), "1234568") || strings.Contains(err.Error(), "HONGGILDONG")) {
				t.Fatalf("error shows personal data: %v", err)
			}
			// Only an outage opens the (threshold 1) breaker.
			if open := br.State() == resilience.Open; open != tt.unavailable {
				t.Fatalf("breaker %s after %s", br.State(), tt.name)
			}
		})
	}
}

func TestSlowServiceIsBounded(t *testing.T) {
	srv := newService(t)
	release := make(chan struct{})
	defer close(release)
	srv.set(func(w http.ResponseWriter, r *http.Request) bool {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	})
	timeout := 100 * time.Millisecond
	c := newClient(t, srv.URL, timeout, nil)
	start := time.Now()
	// The caller allows a minute; the client must not use it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := c.Post(ctx, hong, &answer{})
	elapsed := time.Since(start)
	var un *identity.UnavailableError
	if !errors.As(err, &un) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if elapsed < 2*timeout || elapsed > c.MaxDuration()+200*time.Millisecond {
		t.Fatalf("took %v; want between %v and about %v", elapsed, 2*timeout, c.MaxDuration())
	}
	if srv.hits.Load() != 2 {
		t.Fatalf("hits %d, want 2 attempts", srv.hits.Load())
	}
}

func TestDeadServiceOpensBreakerAndRecovers(t *testing.T) {
	srv := newService(t)
	var down atomic.Bool
	down.Store(true)
	srv.set(func(w http.ResponseWriter, r *http.Request) bool {
		if down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	br := resilience.NewBreaker(3, 30*time.Second, clock.Now)
	c := newClient(t, srv.URL, time.Second, br)
	check := func() (bool, error) { return ask(c, hong) }

	for i := 0; i < 3; i++ {
		if _, err := check(); !errors.Is(err, errOutage) {
			t.Fatalf("check %d: %v", i, err)
		}
	}
	if br.State() != resilience.Open || srv.hits.Load() != 6 {
		t.Fatalf("after 3 failed checks: breaker %s, hits %d", br.State(), srv.hits.Load())
	}

	// Open: calls fail at once, without touching the service, with the
	// time left on the breaker as Retry-After.
	clock.Advance(10 * time.Second)
	for i := 0; i < 20; i++ {
		start := time.Now()
		_, err := check()
		var un *identity.UnavailableError
		if !errors.As(err, &un) || un.RetryAfter != 20*time.Second {
			t.Fatalf("open call: %v", err)
		}
		if d := time.Since(start); d > 20*time.Millisecond {
			t.Fatalf("open call took %v", d)
		}
	}
	if srv.hits.Load() != 6 {
		t.Fatalf("open breaker let %d calls through", srv.hits.Load()-6)
	}

	// Cooldown over, service still down: one trial, which reopens it.
	clock.Advance(20 * time.Second)
	if _, err := check(); !errors.Is(err, errOutage) || br.State() != resilience.Open {
		t.Fatalf("failed trial: %v, breaker %s", err, br.State())
	}
	if srv.hits.Load() != 8 {
		t.Fatalf("hits %d after trial", srv.hits.Load())
	}

	// The service recovers; after the next cooldown the trial closes it.
	down.Store(false)
	if _, err := check(); !errors.Is(err, errOutage) {
		t.Fatalf("still open: %v", err)
	}
	clock.Advance(30 * time.Second)
	if ok, err := check(); err != nil || !ok || br.State() != resilience.Closed {
		t.Fatalf("recovery: %v %v, breaker %s", ok, err, br.State())
	}
	if ok, err := check(); err != nil || !ok {
		t.Fatalf("after recovery: %v %v", ok, err)
	}
}

func TestUnreachableServiceIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	c := newClient(t, url, 200*time.Millisecond, nil)
	_, err := ask(c, hong)
	var un *identity.UnavailableError
	if !errors.Is(err, errOutage) || !errors.As(err, &un) {
		t.Fatalf("err = %v", err)
	}
}
