package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
	"github.com/pccc/pccc/shared/codes"
	"github.com/pccc/pccc/shared/limits"
	"github.com/pccc/pccc/shared/notify"
	"github.com/pccc/pccc/shared/testkit"
)

// The limits of the verification step as an attacker meets them (README
// "Limits"): who pays for a failure, and when a day ends.

// limitOf is the bound a 429 names.
func limitOf(r reply) string {
	e, _ := r.body["error"].(map[string]any)
	l, _ := e["limit"].(string)
	return l
}

// retryAfter is the answer's Retry-After in seconds (-1 when absent).
func retryAfter(r reply) int {
	n, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil {
		return -1
	}
	return n
}

// postFrom posts v as JSON from the client address ip (a loopback
// address: Linux answers all of 127/8), so that API Gateway's sourceIp,
// which the local runner takes from the connection, is ip.
func (s *system) postFrom(t *testing.T, ip, path string, v any) reply {
	t.Helper()
	b, _ := json.Marshal(v)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, DisableKeepAlives: true}}
	req, err := http.NewRequest(http.MethodPost, s.url+path, strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s from %s: %v", path, ip, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	if e, ok := r.body["error"].(map[string]any); ok {
		r.errCode, _ = e["code"].(string)
	}
	return r
}

// noPersonalData fails the test if any of data is in a log line or in a
// dump of the tables.
func noPersonalData(t *testing.T, s *system, data ...string) {
	t.Helper()
	logs, dump := s.logs.String(), dumpTables(t, s.stack)
	if !strings.Contains(dump, "RATE#") {
		t.Fatalf("the dump holds no counters: %.300s", dump)
	}
	for _, d := range data {
		if i := strings.Index(logs, d); i >= 0 {
			t.Errorf("a log line holds %q: %s", d, around(logs, i))
		}
		if i := strings.Index(dump, d); i >= 0 {
			t.Errorf("the tables hold %q: %s", d, around(dump, i))
		}
	}
}

func residentData(r sim.Resident) []string {
	digits := strings.ReplaceAll(r.RRN, "-", "")
	return []string{r.Name, strings.ReplaceAll(r.Name, " ", ""), r.RRN, digits, digits[6:], r.Phone}
}

// A stranger's own verification naming the victim's phone: the carrier
// refuses it, the stranger's verification is spent after a few, and the
// victim's phone has had no code counted: the victim's request gets one.
func TestStrangerCannotSpendAVictimsPhone(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, map[string]string{"OTP_SENDS_PER_PHONE_PER_DAY": "1"})
		people := sim.BuiltIn()
		stranger, victim := people[0], people[1]
		id := s.startVerification(t, stranger)
		naming := smsBody(stranger)
		naming["phone"] = victim.Phone
		var failed []string
		for i := range 6 {
			rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", naming)
			switch {
			case i < 3 && rep.status == http.StatusUnprocessableEntity:
				failed = append(failed, withoutRequestID(rep))
			case i >= 3 && rep.status == http.StatusTooManyRequests && limitOf(rep) == "verification-phones" && retryAfter(rep) > 0:
			default:
				t.Fatalf("try %d: %d %s", i, rep.status, rep.raw)
			}
		}
		if failed[0] != failed[1] || failed[1] != failed[2] {
			t.Fatalf("the failures read differently: %v", failed)
		}
		own := s.startVerification(t, victim)
		if rep := s.postJSON(t, "/v1/verifications/"+own+"/sms", smsBody(victim)); rep.status != http.StatusAccepted {
			t.Fatalf("the victim's own request: %d %s", rep.status, rep.raw)
		}
		if code := s.waitForCode(t, victim.Phone, 0); len(code) != 6 {
			t.Fatalf("code %q", code)
		}
		noPersonalData(t, s, append(residentData(stranger), residentData(victim)...)...)
	})
}

// A search for a person's phone: 100 wrong phones on one verification
// spend it after 3 (the right phone then gets the same 429: no oracle),
// and the person's day counted them: with that bound at 3, a new
// verification with the right phone is refused until midnight in Seoul.
func TestPhoneSearchIsBounded(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		// 23:00 in Seoul, on the runner's clock.
		clock := testkit.NewClock(time.Date(2026, 12, 1, 14, 0, 0, 0, time.UTC))
		s := startOnClock(t, kind, map[string]string{"OTP_PHONE_FAILS_PER_PERSON_PER_DAY": "3"}, clock)
		r := sim.BuiltIn()[2]
		id := s.startVerification(t, r)
		counts := map[int]int{}
		for i := range 100 {
			b := smsBody(r)
			b["phone"] = fmt.Sprintf("0109%07d", 1000+i)
			rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", b)
			counts[rep.status]++
			if rep.status == http.StatusTooManyRequests && (limitOf(rep) != "verification-phones" || rep.errCode != "TOO_MANY_ATTEMPTS") {
				t.Fatalf("try %d: %s", i, rep.raw)
			}
		}
		if counts[http.StatusUnprocessableEntity] != 3 || counts[http.StatusTooManyRequests] != 97 {
			t.Fatalf("answers %v, want 3 failures then 97 refusals", counts)
		}
		wrong := smsBody(r)
		wrong["phone"] = "01099990000"
		right := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r))
		if withoutRequestID(right) != withoutRequestID(s.postJSON(t, "/v1/verifications/"+id+"/sms", wrong)) {
			t.Fatalf("the spent verification tells the right phone from a wrong one: %s", right.raw)
		}
		fresh := s.startVerification(t, r)
		rep := s.postJSON(t, "/v1/verifications/"+fresh+"/sms", smsBody(r))
		if rep.status != http.StatusTooManyRequests || limitOf(rep) != "person-phones" || retryAfter(rep) != 3600 {
			t.Fatalf("the person's day: %d Retry-After %q %s", rep.status, rep.header.Get("Retry-After"), rep.raw)
		}
		clock.Advance(time.Hour)
		fresh = s.startVerification(t, r)
		if rep := s.postJSON(t, "/v1/verifications/"+fresh+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
			t.Fatalf("after midnight in Seoul: %d %s", rep.status, rep.raw)
		}
		noPersonalData(t, s, append(residentData(r), "01090001000", "01090001099")...)
	})
}

// A day is the Korean day: a phone's codes spent at 08:59 in Seoul are
// still spent after 09:00 (midnight UTC, where the windows used to end),
// the wait said is the true one, and they come back at midnight in Seoul.
func TestDayWindowsEndAtMidnightInSeoul(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		clock := testkit.NewClock(time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)) // 08:59 on 1 Dec in Seoul
		s := startOnClock(t, kind, map[string]string{"OTP_SENDS_PER_PHONE_PER_DAY": "1"}, clock)
		r := sim.BuiltIn()[3]
		send := func() reply {
			t.Helper()
			return s.postJSON(t, "/v1/verifications/"+s.startVerification(t, r)+"/sms", smsBody(r))
		}
		if rep := send(); rep.status != http.StatusAccepted {
			t.Fatalf("first code: %d %s", rep.status, rep.raw)
		}
		midnight := time.Date(2026, 12, 2, 0, 0, 0, 0, limits.Seoul)
		for _, step := range []time.Duration{0, 2 * time.Minute} { // 08:59 and 09:01 in Seoul
			clock.Advance(step)
			rep := send()
			want := int(midnight.Sub(clock.Now()) / time.Second)
			if rep.status != http.StatusTooManyRequests || limitOf(rep) != "phone-codes" || retryAfter(rep) != want {
				t.Fatalf("at %s in Seoul: %d Retry-After %q (want %d) %s", clock.Now().In(limits.Seoul).Format("15:04"), rep.status, rep.header.Get("Retry-After"), want, rep.raw)
			}
		}
		clock.Advance(midnight.Sub(clock.Now()) - time.Second)
		if rep := send(); rep.status != http.StatusTooManyRequests {
			t.Fatalf("a second before midnight in Seoul: %d %s", rep.status, rep.raw)
		}
		clock.Advance(time.Second)
		if rep := send(); rep.status != http.StatusAccepted {
			t.Fatalf("at midnight in Seoul: %d %s", rep.status, rep.raw)
		}
	})
}

// Wrong names for a registration number: ten from ten addresses leave the
// right name from an eleventh going; five from one address stop that
// address only; the day's bound (12 here) stops everyone, with the same
// answer whatever the name, and tells the holder once.
func TestWrongNamesDoNotLockTheOwnerOut(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(map[string]string{"RRN_FAILS_PER_DAY": "12"}))
		r := sim.BuiltIn()[4]
		const phone = "01055554444"
		// The owner has a code, registered with its own phone.
		token := s.sessionFor(t, r)
		body := strings.Replace(issueBody(), `"phone":"010-7777-8888"`, `"phone":"`+phone+`"`, 1)
		v := s.succeeded(t, token, accepted(t, s.call(t, "POST", "/v1/codes", token, "", body)))
		if c, _ := v["code"].(string); !codes.Valid(c) {
			t.Fatalf("issued %v", v)
		}
		wrong := map[string]string{"name": "KIM NOBODY", "rrn": r.RRN}
		rightName := map[string]string{"name": r.Name, "rrn": r.RRN}
		for i := range 10 {
			if rep := s.postFrom(t, fmt.Sprintf("127.0.0.%d", 10+i), "/v1/verifications", wrong); rep.status != http.StatusUnprocessableEntity {
				t.Fatalf("wrong name from address %d: %d %s", i, rep.status, rep.raw)
			}
		}
		if rep := s.postFrom(t, "127.0.0.30", "/v1/verifications", rightName); rep.status != http.StatusCreated {
			t.Fatalf("the right name from an eleventh address: %d %s", rep.status, rep.raw)
		}
		// Two more (the right name counted nothing): 12, the day is spent.
		for i := range 2 {
			if rep := s.postFrom(t, "127.0.0.40", "/v1/verifications", wrong); rep.status != http.StatusUnprocessableEntity {
				t.Fatalf("wrong name %d from one address: %d %s", i, rep.status, rep.raw)
			}
		}
		// The holder's language is Korean unless chosen; the text ends
		// with the page's address.
		notice := strings.TrimSpace(notify.NumberFailuresText("").Ko)
		if n := s.waitSMS(t, phone, notice, 1); n != 1 {
			t.Fatalf("the holder got %d notices when the day was spent, want 1", n)
		}
		var spent []reply
		for _, b := range []map[string]string{rightName, wrong} {
			before := time.Now()
			rep := s.postFrom(t, "127.0.0.50", "/v1/verifications", b)
			// The true wait: to midnight in Seoul, on the wall clock.
			midnight := time.Date(before.In(limits.Seoul).Year(), before.In(limits.Seoul).Month(), before.In(limits.Seoul).Day()+1, 0, 0, 0, 0, limits.Seoul)
			if w := retryAfter(rep); rep.status != http.StatusTooManyRequests || limitOf(rep) != "number-failures" || rep.errCode != "TOO_MANY_ATTEMPTS" ||
				w < int(time.Until(midnight)/time.Second) || w > int(midnight.Sub(before)/time.Second)+1 {
				t.Fatalf("after the day's bound: %d Retry-After %q %s", rep.status, rep.header.Get("Retry-After"), rep.raw)
			}
			spent = append(spent, rep)
		}
		if withoutRequestID(spent[0]) != withoutRequestID(spent[1]) {
			t.Fatalf("the spent day tells the right name from a wrong one: %s / %s", spent[0].raw, spent[1].raw)
		}
		if n := s.smsWith(phone, notice); n != 1 {
			t.Fatalf("%d notices after more refusals", n)
		}
		noPersonalData(t, s, append(residentData(r), phone, "KIM NOBODY", "KIMNOBODY")...)
	})
}

// The tight bound: failures of one number from one address stop that
// address only.
func TestWrongNamesFromOneAddress(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, nil)
		r := sim.BuiltIn()[0]
		wrong := map[string]string{"name": "KIM NOBODY", "rrn": r.RRN}
		for i := range 5 {
			if rep := s.postFrom(t, "127.0.0.60", "/v1/verifications", wrong); rep.status != http.StatusUnprocessableEntity {
				t.Fatalf("wrong name %d: %d %s", i, rep.status, rep.raw)
			}
		}
		// The wait: what is left of this hour's slot and a fifth of the
		// next (where these 5 weigh 4).
		before := time.Now()
		rep := s.postFrom(t, "127.0.0.60", "/v1/verifications", map[string]string{"name": r.Name, "rrn": r.RRN})
		end := before.Truncate(time.Hour).Add(time.Hour + 12*time.Minute)
		if w := retryAfter(rep); rep.status != http.StatusTooManyRequests || limitOf(rep) != "number-address-failures" ||
			w < int(time.Until(end)/time.Second) || w > int(end.Sub(before)/time.Second)+1 {
			t.Fatalf("the right name from that address: %d Retry-After %q %s", rep.status, rep.header.Get("Retry-After"), rep.raw)
		}
		if rep := s.postFrom(t, "127.0.0.61", "/v1/verifications", map[string]string{"name": r.Name, "rrn": r.RRN}); rep.status != http.StatusCreated {
			t.Fatalf("the right name from another address: %d %s", rep.status, rep.raw)
		}
	})
}

// Strict JSON on the routes of the verification step and the holder's:
// a key given twice and a field in the wrong case are 400 naming them.
func TestStrictJSONOnEveryStep(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(nil))
		r := sim.BuiltIn()[0]
		id := s.startVerification(t, r)
		token := mint(t, "strict-json-holder")
		for _, tt := range []struct {
			path, body, field string
		}{
			{"/v1/verifications/" + id + "/sms", `{"carrier":"SKT","phone":"01000000001","phone":"01000000002","birthDate":"19900101","sex":"M"}`, "phone"},
			{"/v1/verifications/" + id + "/sms", `{"Carrier":"SKT","phone":"01000000001","birthDate":"19900101","sex":"M"}`, "Carrier"},
			{"/v1/verifications/" + id + "/confirm", `{"otp":"123456","otp":"654321"}`, "otp"},
			{"/v1/verifications/" + id + "/confirm", `{"OTP":"123456"}`, "OTP"},
			{"/v1/codes", strings.Replace(issueBody(), `"zip":"06236"`, `"zip":"06236","zip":"04524"`, 1), "addresses[1].zip"},
			{"/v1/codes", strings.Replace(issueBody(), `"consent"`, `"Consent"`, 1), "Consent"},
		} {
			rep := s.call(t, "POST", tt.path, token, "", tt.body)
			e, _ := rep.body["error"].(map[string]any)
			fields, _ := e["fields"].(map[string]any)
			if rep.status != http.StatusBadRequest || fields[tt.field] == nil {
				t.Errorf("%s %.60s: %d %s; want 400 naming %q", tt.path, tt.body, rep.status, rep.raw, tt.field)
			}
		}
		// Nothing was counted or sent by the refused bodies.
		if rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
			t.Fatalf("the well-formed request after them: %d %s", rep.status, rep.raw)
		}
	})
}
