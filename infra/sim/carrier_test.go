package sim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/carrier"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/otp"
)

// serveCarrier mounts the simulator as the local runner does and returns
// the real carrier client pointed at it.
func serveCarrier(t *testing.T, s *Sim) (*httptest.Server, *carrier.Client) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/_sim/", http.StripPrefix("/_sim", s.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := carrier.New(carrier.Options{BaseURL: srv.URL + "/_sim/carrier", HTTP: srv.Client(), Timeout: time.Second, Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// subscriberOf builds the request the SMS step would send for r, through
// the same parsers the route uses.
func subscriberOf(t *testing.T, r Resident) otp.Subscriber {
	t.Helper()
	name, err := identity.NormalizeName(r.Name)
	if err != nil {
		t.Fatal(err)
	}
	s := otp.Subscriber{Name: identity.NameKey(name)}
	if s.Carrier, err = otp.ParseCarrier(r.Carrier); err != nil {
		t.Fatal(err)
	}
	if s.Phone, err = otp.ParsePhone(r.Phone); err != nil {
		t.Fatal(err)
	}
	if s.BirthDate, err = otp.ParseBirthDate(r.BirthDate); err != nil {
		t.Fatal(err)
	}
	if s.Sex, err = otp.ParseSex(r.Sex); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCarrierSubscriberThroughTheRealClient(t *testing.T) {
	_, c := serveCarrier(t, New(BuiltIn()))
	check := func(s otp.Subscriber) bool {
		t.Helper()
		ok, err := c.CheckSubscriber(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	residents := BuiltIn()
	for i, r := range residents {
		s := subscriberOf(t, r)
		if !check(s) {
			t.Errorf("built-in %d does not match", i)
		}
		// Another resident's value in any one field is a mismatch; so is a
		// phone nobody has.
		other := subscriberOf(t, residents[(i+1)%len(residents)])
		otherSex := map[string]string{"M": "F", "F": "M"}[s.Sex]
		for _, tt := range []struct {
			field  string
			change func(*otp.Subscriber)
		}{
			{"carrier", func(x *otp.Subscriber) { x.Carrier = other.Carrier }},
			{"phone", func(x *otp.Subscriber) { x.Phone = other.Phone }},
			{"unknown phone", func(x *otp.Subscriber) { x.Phone = "01099999999" }},
			{"name", func(x *otp.Subscriber) { x.Name = other.Name }},
			{"name with spaces", func(x *otp.Subscriber) { x.Name = x.Name + " " }},
			{"birthDate", func(x *otp.Subscriber) { x.BirthDate = other.BirthDate }},
			{"sex", func(x *otp.Subscriber) { x.Sex = otherSex }},
		} {
			wrong := s
			tt.change(&wrong)
			if wrong == s {
				t.Fatalf("built-in %d: %s change changed nothing", i, tt.field)
			}
			if check(wrong) {
				t.Errorf("built-in %d with a wrong %s matches", i, tt.field)
			}
		}
	}
}

// The name key makes spacing and case irrelevant, as at the bureau.
func TestCarrierComparesNameKeys(t *testing.T) {
	_, c := serveCarrier(t, New(BuiltIn()))
	r := BuiltIn()[3] // SMITH JOHN
	r.Name = "smith  john"
	ok, err := c.CheckSubscriber(context.Background(), subscriberOf(t, r))
	if err != nil || !ok {
		t.Fatalf("CheckSubscriber = %v, %v", ok, err)
	}
}

func TestCarrierRejectsMalformedRequests(t *testing.T) {
	srv, _ := serveCarrier(t, New(BuiltIn()))
	url := srv.URL + "/_sim/carrier" + carrier.SubscriberPath
	for _, body := range []string{
		``,
		`{`,
		`{"carrier":"SKT","phone":"01000000001","name":"HONGGILDONG","birthDate":"19900101"}`,
		`{"carrier":"SKT","phone":"01000000001","name":"HONGGILDONG","birthDate":"19900101","sex":"M","rrn":"x"}`,
		`{"carrier":"SKT","phone":"01000000001","name":"","birthDate":"19900101","sex":"M"}`,
	} {
		resp, err := srv.Client().Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("body %q: status %d", body, resp.StatusCode)
		}
	}
	resp, err := srv.Client().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: status %d", resp.StatusCode)
	}
}
