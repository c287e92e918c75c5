package carrier

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
	"github.com/pccc/pccc/shared/otp"
	"github.com/pccc/pccc/shared/resilience"
)

// hong is the one subscriber the test gateway knows.
var hong = otp.Subscriber{Carrier: "SKT", Phone: "01000000001", Name: "HONGGILDONG", BirthDate: "19900101", Sex: "M"}

// fakeGateway answers like a carrier gateway knowing hong, unless override
// (when set) handles the request. It counts requests.
type fakeGateway struct {
	*httptest.Server
	hits     atomic.Int64
	mu       sync.Mutex
	override func(w http.ResponseWriter) bool
}

func newGateway(t *testing.T) *fakeGateway {
	g := &fakeGateway{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.hits.Add(1)
		g.mu.Lock()
		override := g.override
		g.mu.Unlock()
		if override != nil && override(w) {
			return
		}
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/subscriber" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad route", http.StatusNotFound)
			return
		}
		var req SubscriberRequest
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		want := SubscriberRequest{Carrier: hong.Carrier, Phone: hong.Phone, Name: hong.Name, BirthDate: hong.BirthDate, Sex: hong.Sex}
		_ = json.NewEncoder(w).Encode(SubscriberResponse{Match: req == want})
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *fakeGateway) set(f func(w http.ResponseWriter) bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.override = f
}

func newClient(t *testing.T, url string, timeout time.Duration, br *resilience.Breaker) *Client {
	t.Helper()
	c, err := New(Options{BaseURL: url + "/api/", Timeout: timeout, Attempts: 2, Breaker: br})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// noPersonalData fails if err's text shows any of s's fields.
func noPersonalData(t *testing.T, err error, s otp.Subscriber) {
	t.Helper()
	if err == nil {
		return
	}
	for _, v := range []string{s.Phone, s.Name, s.BirthDate} {
		if strings.Contains(err.Error(), v) {
			t.Fatalf("error shows personal data: %v", err)
		}
	}
}

func TestCheckSubscriber(t *testing.T) {
	g := newGateway(t)
	c := newClient(t, g.URL, time.Second, nil)
	with := func(f func(*otp.Subscriber)) otp.Subscriber { s := hong; f(&s); return s }
	tests := []struct {
		name string
		s    otp.Subscriber
		want bool
	}{
		{"match", hong, true},
		{"other carrier", with(func(s *otp.Subscriber) { s.Carrier = "SKT_MVNO" }), false},
		{"unknown phone", with(func(s *otp.Subscriber) { s.Phone = "01099999999" }), false},
		{"other name", with(func(s *otp.Subscriber) { s.Name = "HONGGILSOON" }), false},
		{"other birth date", with(func(s *otp.Subscriber) { s.BirthDate = "19900102" }), false},
		{"other sex", with(func(s *otp.Subscriber) { s.Sex = "F" }), false},
	}
	for _, tt := range tests {
		got, err := c.CheckSubscriber(context.Background(), tt.s)
		if err != nil || got != tt.want {
			t.Errorf("%s: CheckSubscriber = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	if g.hits.Load() != int64(len(tests)) {
		t.Fatalf("%d hits for %d checks", g.hits.Load(), len(tests))
	}
}

func TestNewRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "carrier.local", "ftp://x"} {
		if _, err := New(Options{BaseURL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

func TestRetriesAndRefusals(t *testing.T) {
	tests := []struct {
		name        string
		answer      func(n int64, w http.ResponseWriter) bool // n counts from 1
		wantMatch   bool
		unavailable bool
		wantHits    int64
	}{
		{"5xx then answer is retried", func(n int64, w http.ResponseWriter) bool {
			if n == 1 {
				w.WriteHeader(http.StatusBadGateway)
				return true
			}
			return false
		}, true, false, 2},
		{"garbled answer is retried", func(n int64, w http.ResponseWriter) bool {
			if n == 1 {
				_, _ = w.Write([]byte("<html>"))
				return true
			}
			return false
		}, true, false, 2},
		{"5xx twice is unavailable", func(int64, http.ResponseWriter) bool { return false }, false, true, 2},
		{"4xx is neither retried nor an outage", func(_ int64, w http.ResponseWriter) bool {
			w.WriteHeader(http.StatusBadRequest)
			return true
		}, false, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			var n atomic.Int64
			if tt.unavailable {
				g.set(func(w http.ResponseWriter) bool { w.WriteHeader(http.StatusServiceUnavailable); return true })
			} else {
				g.set(func(w http.ResponseWriter) bool { return tt.answer(n.Add(1), w) })
			}
			br := resilience.NewBreaker(1, time.Minute, nil)
			c := newClient(t, g.URL, time.Second, br)
			got, err := c.CheckSubscriber(context.Background(), hong)
			var un *identity.UnavailableError
			isUn := errors.As(err, &un)
			if got != tt.wantMatch || isUn != tt.unavailable {
				t.Fatalf("CheckSubscriber = %v, %v", got, err)
			}
			if isUn && (!errors.Is(err, ErrUnavailable) || un.RetryAfter <= 0) {
				t.Fatalf("unavailable error %v lacks ErrUnavailable or RetryAfter", err)
			}
			if tt.name == "4xx is neither retried nor an outage" && err == nil {
				t.Fatal("a 4xx answer gave no error")
			}
			if g.hits.Load() != tt.wantHits {
				t.Fatalf("hits %d, want %d", g.hits.Load(), tt.wantHits)
			}
			noPersonalData(t, err, hong)
			// Only an outage opens the (threshold 1) breaker.
			if open := br.State() == resilience.Open; open != tt.unavailable {
				t.Fatalf("breaker %s", br.State())
			}
		})
	}
}

func TestSlowCarrierIsBounded(t *testing.T) {
	g := newGateway(t)
	release := make(chan struct{})
	defer close(release)
	g.set(func(http.ResponseWriter) bool { <-release; return true })
	timeout := 100 * time.Millisecond
	c := newClient(t, g.URL, timeout, nil)
	// The caller allows a minute; the client must not use it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err := c.CheckSubscriber(ctx, hong)
	elapsed := time.Since(start)
	var un *identity.UnavailableError
	if !errors.As(err, &un) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if elapsed < 2*timeout || elapsed > c.MaxDuration()+200*time.Millisecond {
		t.Fatalf("took %v; want between %v and about %v", elapsed, 2*timeout, c.MaxDuration())
	}
	if g.hits.Load() != 2 {
		t.Fatalf("hits %d, want 2 attempts", g.hits.Load())
	}
	noPersonalData(t, err, hong)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestDeadCarrierOpensBreakerAndRecovers(t *testing.T) {
	g := newGateway(t)
	var down atomic.Bool
	down.Store(true)
	g.set(func(w http.ResponseWriter) bool {
		if down.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	clock := &fakeClock{t: time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)}
	br := resilience.NewBreaker(3, 30*time.Second, clock.Now)
	c := newClient(t, g.URL, time.Second, br)
	check := func() (bool, error) { return c.CheckSubscriber(context.Background(), hong) }

	// Three failed checks of two attempts each open the breaker.
	for i := 0; i < 3; i++ {
		if _, err := check(); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("check %d: %v", i, err)
		}
	}
	if br.State() != resilience.Open || g.hits.Load() != 6 {
		t.Fatalf("after 3 failed checks: breaker %s, hits %d", br.State(), g.hits.Load())
	}

	// Open: later calls fail at once without reaching the carrier, with the
	// breaker's remaining time as Retry-After.
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
	if g.hits.Load() != 6 {
		t.Fatalf("open breaker let %d calls through", g.hits.Load()-6)
	}

	// The carrier recovers; after the cooldown one trial closes the breaker.
	down.Store(false)
	clock.Advance(20 * time.Second)
	if ok, err := check(); err != nil || !ok || br.State() != resilience.Closed {
		t.Fatalf("recovery: %v %v, breaker %s", ok, err, br.State())
	}
}

func TestUnreachableCarrierIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	c := newClient(t, url, 200*time.Millisecond, nil)
	_, err := c.CheckSubscriber(context.Background(), hong)
	var un *identity.UnavailableError
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &un) {
		t.Fatalf("err = %v", err)
	}
	noPersonalData(t, err, hong)
}
