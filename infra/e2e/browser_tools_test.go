package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pccc/pccc/infra/browser"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
)

// TestBrowserHolderTools: the parts of the page the journey does not pass,
// for a foreign resident in Korean: a new code asked for after the
// cooldown, a wrong code with its tries left, errors listed at the top and
// linked to their fields (values kept, title prefixed), 1 to 20 addresses
// added and removed, the back button after an issue (no second issue),
// changing the details, the checks made on the code, and a declaration
// denied through its dialog. Each state is audited as the journey's are.
func TestBrowserHolderTools(t *testing.T) {
	s := start(t, localstack.Embedded, map[string]string{"OTP_RESEND_COOLDOWN": "2s", "CLEARANCE_CHECKS_PER_CODE_PER_HOUR": "1000"})
	key, _ := newKey(t, s, "ACME Express", 1000)
	r := sim.BuiltIn()[4] // NGUYEN THI LAN, an alien registration number
	j := newJourney(t, s, "ko", r)
	j.resend, j.wrongOTP = true, true
	p, c := j.p, j.c
	p.Goto(s.url + "/")
	p.Click(j.role("link", "start.issue"))
	j.verify("NGUYEN THI")

	// The details with two mistakes: no English name, a 4-digit postcode.
	j.heading("details.title")
	p.Click(j.label("details.nationality.other"))
	p.Fill(j.label("details.country"), "VN")
	p.Fill(j.label("details.phone"), r.Phone)
	first := browser.Role("group", c.s(t, "address.legend", "n", "1"))
	p.Fill(j.label("address.zip").Within(first), "0452")
	p.Fill(j.label("address.address").Within(first), "Sejong-daero 209")
	p.Click(j.role("button", "continue"))
	summary := p.Find(j.role("alert", "error.summary"))
	for _, k := range []string{"details.error.englishName", "address.error.zip"} {
		p.Find(browser.Role("link", c.s(t, k, "n", "1")).Within(browser.Role("alert", c.s(t, "error.summary"))))
		if !strings.Contains(summary.Text(), c.s(t, k, "n", "1")) {
			t.Errorf("the summary lacks %q: %s", c.s(t, k, "n", "1"), summary.Text())
		}
	}
	var title string
	p.Eval(`document.title`, &title)
	if !strings.HasPrefix(title, c.s(t, "error.titlePrefix")) {
		t.Errorf("title with errors = %q, want it prefixed %q", title, c.s(t, "error.titlePrefix"))
	}
	if v := p.Find(j.label("address.zip").Within(first)).Value; v != "0452" {
		t.Errorf("the postcode holds %q after the error, want what was typed", v)
	}
	if v := p.Find(j.label("details.country")).Value; v != "VN" {
		t.Errorf("the country holds %q after the error, want what was typed", v)
	}
	p.Check("details-errors", "")
	p.Click(browser.Role("link", c.s(t, "address.error.zip", "n", "1")))
	if f := p.Focused(); f == nil || f.Name != c.s(t, "address.zip") || f.Value != "0452" {
		t.Errorf("the summary's postcode link moved the focus to %v", f)
	}
	p.SelectAll()
	p.Type("04524")
	p.Fill(j.label("details.englishName"), r.Name)

	// Up to 20 addresses: the add button goes at 20 and comes back after a
	// removal; the removed ones leave two.
	add := j.role("button", "address.add")
	for n := 2; n <= 20; n++ {
		p.Click(add)
		p.Find(browser.Role("group", c.s(t, "address.legend", "n", strconv.Itoa(n))))
	}
	if p.Has(add) {
		t.Error("the add button still shows with 20 addresses")
	}
	p.Check("details-20-addresses", "")
	for n := 20; n >= 3; n-- {
		p.Click(browser.Role("button", c.s(t, "address.remove", "n", strconv.Itoa(n))))
		p.WaitGone(browser.Role("group", c.s(t, "address.legend", "n", strconv.Itoa(n))), 5*time.Second)
		if !p.Has(add) {
			t.Fatalf("no add button with %d addresses", n-1)
		}
	}
	second := browser.Role("group", c.s(t, "address.legend", "n", "2"))
	p.Fill(j.label("address.zip").Within(second), "06236")
	p.Fill(j.label("address.address").Within(second), "Teheran-ro 152")
	p.Click(j.role("button", "continue"))
	j.heading("issueCheck.title")
	p.Click(j.label("issueCheck.consent"))
	p.Click(j.role("button", "issueCheck.submit"))
	j.done("done.issue")
	code := codePattern.FindString(j.pageText())
	if code == "" {
		t.Fatalf("the issue's result shows no code: %s", j.pageText())
	}

	// Back after the issue: a sensible page, never the issue sent again.
	if err := chromedp.Do(p.Context(), chromedp.NavigateBack()); err != nil {
		t.Fatal(err)
	}
	j.heading("me.title")
	if got := j.holderCode(); got != code {
		t.Errorf("back after the issue shows %s, want the holder's page with %s", got, code)
	}
	issues := 0
	for _, req := range p.Requests() {
		if req.Method == http.MethodPost && strings.HasSuffix(req.URL, "/v1/codes") {
			issues++
		}
	}
	if issues != 1 {
		t.Errorf("the page sent %d issue requests, want one (back must not send it again)", issues)
	}
	p.Check("back-after-issue", "")

	// Change the details: a bad postcode is refused next to its field, then
	// the right one is saved.
	p.Click(j.role("link", "me.edit"))
	j.heading("details.editTitle")
	p.Fill(j.label("address.zip").Within(second), "1349")
	p.Click(j.role("button", "details.save"))
	p.Find(browser.Role("link", c.s(t, "address.error.zip", "n", "2")))
	p.Check("edit-errors", "")
	p.Fill(j.label("address.zip").Within(second), "13494")
	p.Click(j.role("button", "details.save"))
	j.done("done.update")
	j.toHolderPage()
	j.waitText("13494", 5*time.Second)

	// The checks made on the code: one by the broker's key.
	if rep := s.check(t, "ApiKey "+key, checkBody(code, r.Name, r.Phone, "04524")); rep.status != http.StatusOK || rep.body["result"] != "match" {
		t.Fatalf("the broker's check: %d %s", rep.status, rep.raw)
	}
	p.Click(j.role("link", "checks.title"))
	j.heading("checks.title")
	j.waitText("ACME Express", 10*time.Second)
	j.waitText(c.s(t, "checks.match"), 5*time.Second)
	p.Check("checks", "")

	// A declaration the holder denies, through the dialog.
	p.Click(j.role("link", "back"))
	j.heading("me.title")
	p.Click(j.role("link", "settings.title"))
	j.heading("settings.title")
	p.Click(j.label("settings.on"))
	p.Click(j.role("button", "settings.save"))
	j.waitText(c.s(t, "settings.savedOn"), 10*time.Second)
	body, _ := json.Marshal(map[string]any{
		"code": code, "name": r.Name, "phone": r.Phone, "zip": "13494", // the changed address
		"waybill": "CJ-3333333333", "value": "12.00", "currency": "USD",
		"items": []map[string]any{{"description": "phone case", "quantity": 2}},
	})
	filed := s.file(t, key, string(body))
	declID, _ := filed.body["id"].(string)
	if filed.status != http.StatusCreated || filed.body["status"] != "pending" {
		t.Fatalf("the broker's filing: %d %s, want 201 pending", filed.status, filed.raw)
	}
	p.Click(j.role("link", "back"))
	j.heading("me.title")
	p.Click(browser.Role("link", c.s(t, "me.pending", "n", "1")))
	j.heading("declarations.title")
	j.waitText("CJ-3333333333", 10*time.Second)
	p.Click(j.role("button", "declarations.deny").Partial())
	p.Find(j.role("heading", "deny.title"))
	p.Check("deny-dialog", "")
	p.Click(j.role("button", "deny.confirm"))
	j.waitText(c.s(t, "declarations.denied", "waybill", "CJ-3333333333"), 10*time.Second)
	j.waitText(c.s(t, "declarations.status.denied"), 5*time.Second)
	p.Check("declaration-denied", "")
	if v := s.brokerSees(t, key, declID, "denied"); v["status"] != "denied" {
		t.Errorf("the broker sees %v after the holder denied", v)
	}

	p.Click(j.role("button", "signout.button"))
	j.heading("signedOut.title")
	if len(j.otps) != 2 {
		t.Errorf("%d one-time codes read, want two (the first and the one sent again)", len(j.otps))
	}
	j.noSecretsLeft(j.otps...)
}
