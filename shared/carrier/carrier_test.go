package carrier

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/otp"
	"github.com/pccc/pccc/shared/resilience"
)

// hong is the one subscriber the test gateway knows.
var hong = otp.Subscriber{Carrier: "SKT", Phone: "01000000001", Name: "HONGGILDONG", BirthDate: "19900101", Sex: "M"}

// fakeGateway answers like a carrier gateway knowing hong. It counts
// requests. (Retries, timeouts and the breaker are shared/gateway's, tested
// there.)
type fakeGateway struct {
	*httptest.Server
	hits atomic.Int64
}

func newGateway(t *testing.T) *fakeGateway {
	g := &fakeGateway{}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.hits.Add(1)
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
