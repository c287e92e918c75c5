package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/functions"
	"github.com/pccc/pccc/infra/browser"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/platform"
)

// The public web page in a real Chromium, against the whole system on
// make run's stack: every step found by its role and visible name (from
// the page's own catalogues, in the language under test), each state
// audited with axe-core and shot at the desktop and the phone size.

// TestMain stops the browser the tests of this package share.
func TestMain(m *testing.M) { os.Exit(browser.Main(m)) }

// catalogue is one language's strings as the page shows them.
type catalogue struct {
	lang    string
	strings map[string]string
}

func loadCatalogue(t *testing.T, lang string) catalogue {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "web", "i18n", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	c := catalogue{lang: lang}
	if err := json.Unmarshal(b, &c.strings); err != nil {
		t.Fatalf("web/i18n/%s.json: %v", lang, err)
	}
	return c
}

// s is the text of key with its {placeholders} filled in pairs: s("k", "n", "2").
func (c catalogue) s(t *testing.T, key string, args ...string) string {
	t.Helper()
	v, ok := c.strings[key]
	if !ok {
		t.Fatalf("web/i18n/%s.json has no %q", c.lang, key)
	}
	for i := 0; i+1 < len(args); i += 2 {
		v = strings.ReplaceAll(v, "{"+args[i]+"}", args[i+1])
	}
	return v
}

// journey is one person's visit, in one language, in its own browser
// context.
type journey struct {
	t   *testing.T
	s   *system
	p   *browser.Page
	c   catalogue
	r   sim.Resident
	sms int // SMS already read from the outbox for r's phone

	// In verify: ask for a new code once the cooldown has passed, and type
	// a wrong code before the right one.
	resend, wrongOTP bool
	otps             []string // every one-time code read, for noSecretsLeft
}

func newJourney(t *testing.T, s *system, lang string, r sim.Resident) *journey {
	t.Helper()
	p := browser.Shared(t).NewPage(t)
	p.Lang = lang
	return &journey{t: t, s: s, p: p, c: loadCatalogue(t, lang), r: r}
}

// doc names a state's screenshots in docs/screenshots (for the README):
// name-ko-viewport.png, copied when PCCC_UPDATE_SCREENSHOTS=1; the Korean
// journey's only, to keep the folder small.
func (j *journey) doc(name string) string {
	if j.c.lang != "ko" {
		return ""
	}
	return name + "-" + j.c.lang
}

func (j *journey) role(role, key string, args ...string) browser.Target {
	j.t.Helper()
	return browser.Role(role, j.c.s(j.t, key, args...))
}

func (j *journey) label(key string, args ...string) browser.Target {
	j.t.Helper()
	return browser.Label(j.c.s(j.t, key, args...))
}

// heading waits for the step's heading and checks it has the focus, as the
// page moves it there on each step.
func (j *journey) heading(key string, args ...string) *browser.Element {
	j.t.Helper()
	h := j.p.Find(j.role("heading", key, args...))
	deadline := time.Now().Add(3 * time.Second)
	for {
		f := j.p.Focused()
		if f != nil && f.Role == "heading" && f.Name == h.Name {
			return h
		}
		if time.Now().After(deadline) {
			j.t.Errorf("on %q the focus is on %v, not the heading", h.Name, f)
			return h
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pageText is what the page shows, whitespace collapsed.
func (j *journey) pageText() string {
	j.t.Helper()
	var s string
	j.p.Eval(`document.body.innerText`, &s)
	return strings.Join(strings.Fields(s), " ")
}

func (j *journey) waitText(want string, timeout time.Duration) {
	j.t.Helper()
	want = strings.Join(strings.Fields(want), " ")
	deadline := time.Now().Add(timeout)
	for !strings.Contains(j.pageText(), want) {
		if time.Now().After(deadline) {
			j.t.Fatalf("the page never says %q; it says: %s", want, j.pageText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// moveTo tabs to the field unless the focus is already there (the page
// may have moved it), as a person looks before pressing Tab.
func (j *journey) moveTo(to browser.Target) {
	j.t.Helper()
	if f := j.p.Focused(); f != nil && f.Name == to.Name {
		return
	}
	j.p.TabTo(to, 3)
}

// chooseRadio moves through a radio group with the arrow keys, as a
// keyboard user does, until the option named want is checked.
func (j *journey) chooseRadio(want string) {
	j.t.Helper()
	for range 8 {
		f := j.p.Focused()
		if f != nil && f.Role == "radio" && f.Name == want {
			if f.Checked != "true" {
				j.p.Press(browser.Space)
			}
			return
		}
		j.p.Press(browser.ArrowDown)
	}
	j.t.Fatalf("the arrow keys never reached the option %q", want)
}

// otp reads the newest one-time code sent to the resident's phone, as the
// person reads the SMS.
func (j *journey) otp() string {
	j.t.Helper()
	code := j.s.waitForCode(j.t, j.r.Phone, j.sms)
	j.sms++
	j.otps = append(j.otps, code)
	return code
}

var codePattern = regexp.MustCompile(`P[0-9]{12}`)

// verify goes through the three identity steps with the keyboard alone:
// a wrong name first (the general failure), then the right answers, the
// phone step, and the code from the SMS. It returns the one-time code.
func (j *journey) verify(wrongName string) string {
	t, p, c, r := j.t, j.p, j.c, j.r
	t.Helper()
	j.heading("name.title")
	p.Check("name", "")
	front, back, _ := strings.Cut(r.RRN, "-")

	// Wrong name, right number: the FAQ's advice, never which field.
	p.TabTo(j.label("name.name"), 12)
	p.Type(wrongName)
	j.moveTo(j.label("name.rrn.front"))
	p.Type(front)
	// Six digits do not move the focus by themselves (WCAG 3.2.2).
	if f := p.Focused(); f == nil || f.Name != c.s(t, "name.rrn.front") {
		t.Errorf("after six digits the focus moved to %v, want it kept on the front half", f)
	}
	p.TabTo(j.label("name.rrn.back"), 2)
	p.Type(back)
	p.Press(browser.Enter)
	summary := p.Find(j.role("alert", "error.summary"))
	if got := strings.Join(strings.Fields(summary.Text()), " "); !strings.Contains(got, c.s(t, "name.failed")) {
		t.Errorf("the failure says %q, want the general advice %q", got, c.s(t, "name.failed"))
	}
	var title string
	p.Eval(`document.title`, &title)
	if !strings.HasPrefix(title, c.s(t, "error.titlePrefix")) {
		t.Errorf("title after the failure = %q, want it prefixed %q", title, c.s(t, "error.titlePrefix"))
	}
	if v := p.Find(j.label("name.name")).Value; v != wrongName {
		t.Errorf("the name field holds %q after the failure, want what was typed", v)
	}
	p.Check("name-failed", "")

	// The right name, typed over the wrong one; the number stays.
	p.TabTo(j.label("name.name"), 12)
	p.SelectAll()
	p.Type(r.Name)
	// The whole number pasted into the front half is split across both.
	var pasted string
	p.Eval(`(() => { const f = document.getElementById('rrn'), b = document.getElementById('rrn-back');
		f.value = ''; b.value = ''; f.focus();
		const dt = new DataTransfer(); dt.setData('text/plain', `+strconv.Quote(r.RRN)+`);
		f.dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
		return f.value + '|' + b.value + '|' + (document.activeElement === f); })()`, &pasted)
	if pasted != front+"|"+back+"|true" {
		t.Errorf("pasting the whole number gave front|back|focus kept = %q", strings.Replace(pasted, back, "*******", 1))
	}
	// The back half is masked; its button shows it and masks it again.
	backType := func() string {
		var typ string
		p.Eval(`document.getElementById('rrn-back').type`, &typ)
		return typ
	}
	if typ := backType(); typ != "password" {
		t.Errorf("the back half is an input of type %q, want it masked", typ)
	}
	p.TabTo(j.role("button", "name.rrn.show"), 3)
	p.Press(browser.Space)
	if f := p.Focused(); backType() != "text" || f == nil || f.Name != c.s(t, "name.rrn.hide") {
		t.Errorf("after pressing the show button the back half is %q and the button says %v", backType(), f)
	}
	p.Press(browser.Space)
	if backType() != "password" {
		t.Errorf("the hide button left the back half as %q", backType())
	}
	p.ShiftTab()
	if f := p.Focused(); f == nil || f.Name != c.s(t, "name.rrn.back") {
		t.Fatalf("Shift+Tab from the button went to %v, not the back half", f)
	}
	p.Press(browser.Enter)

	j.heading("phone.title")
	p.Check("phone", "")
	p.TabTo(browser.Role("radio", "").Partial().Within(browser.Role("group", c.s(t, "phone.carrier"))), 12)
	j.chooseRadio(c.s(t, "carrier."+r.Carrier))
	p.TabTo(j.label("phone.birthDate"), 3)
	p.Type(r.BirthDate)
	p.TabTo(browser.Role("radio", "").Partial().Within(browser.Role("group", c.s(t, "phone.sex"))), 3)
	j.chooseRadio(c.s(t, "sex."+r.Sex))
	p.TabTo(j.label("phone.phone"), 3)
	p.Type(r.Phone)
	p.Press(browser.Enter)

	j.heading("otp.title")
	p.Check("otp", "")
	otp := j.otp()
	if j.resend {
		// The button waits out the cooldown, then sends a new code that
		// replaces the first.
		resend := j.role("button", "otp.resend")
		deadline := time.Now().Add(20 * time.Second)
		for p.Find(resend).Disabled {
			if time.Now().After(deadline) {
				t.Fatal("the resend button stayed disabled for 20 s")
			}
			time.Sleep(200 * time.Millisecond)
		}
		p.Click(resend)
		j.waitText(c.s(t, "otp.resent"), 10*time.Second)
		otp = j.otp()
		j.heading("otp.title")
	}
	p.TabTo(j.label("otp.code"), 12)
	if j.wrongOTP {
		wrong := "000000"
		if otp == wrong {
			wrong = "111111"
		}
		p.Type(wrong)
		p.Press(browser.Enter)
		want := c.s(t, "otp.wrong", "n", "4") // of the five tries
		summary := p.Find(j.role("alert", "error.summary"))
		if got := strings.Join(strings.Fields(summary.Text()), " "); !strings.Contains(got, want) {
			t.Errorf("a wrong code says %q, want %q", got, want)
		}
		j.waitText(c.s(t, "otp.triesLeft", "n", "4"), 5*time.Second)
		p.Check("otp-wrong", "")
		// The summary links to the field: following it puts the focus there.
		p.Click(browser.Role("link", want))
		if f := p.Focused(); f == nil || f.Name != c.s(t, "otp.code") {
			t.Errorf("the summary's link moved the focus to %v, not the code field", f)
		}
		p.SelectAll()
	}
	p.Type(otp)
	p.Press(browser.Enter)
	return otp
}

// done waits for a command's result page.
func (j *journey) done(key string) {
	j.t.Helper()
	j.p.WaitFor(j.role("heading", key), 30*time.Second)
}

func (j *journey) toHolderPage() {
	j.t.Helper()
	j.p.Click(j.role("link", "done.toMe"))
	j.heading("me.title")
	j.p.Find(browser.Role("button", j.c.s(j.t, "me.copy")))
}

// holderCode is the code the holder's page shows.
func (j *journey) holderCode() string {
	j.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := codePattern.FindString(j.pageText()); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			j.t.Fatalf("the holder's page shows no code: %s", j.pageText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestBrowserJourney(t *testing.T) {
	people := sim.BuiltIn()
	s := start(t, localstack.Embedded, map[string]string{"CLEARANCE_CHECKS_PER_CODE_PER_HOUR": "1000"})
	key, _ := newKey(t, s, "ACME Express", 1000)
	for _, tc := range []struct {
		lang      string
		r         sim.Resident
		wrongName string
	}{
		{"ko", people[1], "이영수"},
		{"en", people[3], "SMITH JON"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			t.Parallel() // two people at once: most of a journey is waiting for the workers
			j := newJourney(t, s, tc.lang, tc.r)
			j.run(key, tc.wrongName)
		})
	}
}

func (j *journey) run(brokerKey, wrongName string) {
	t, p, c, r := j.t, j.p, j.c, j.r
	p.Goto(j.s.url + "/")
	if c.lang == "en" {
		p.Click(browser.Role("button", "English"))
		p.Find(j.role("heading", "start.title"))
		var lang string
		p.Eval(`document.documentElement.lang`, &lang)
		if lang != "en" {
			t.Errorf("<html lang> = %q after choosing English", lang)
		}
		// The choice is remembered: a reload stays in English.
		p.Reload()
		p.Find(j.role("heading", "start.title"))
		p.Eval(`document.documentElement.lang`, &lang)
		if lang != "en" {
			t.Errorf("<html lang> = %q after a reload, want the English chosen before", lang)
		}
	}
	p.Find(j.role("heading", "start.title"))
	p.Check("start", j.doc("start"))
	p.Click(j.role("link", "start.issue"))
	otp := j.verify(wrongName)

	// Issue, with two addresses.
	j.heading("details.title")
	p.Check("details", "")
	foreigner := r.Name == strings.ToUpper(r.Name) && !strings.ContainsFunc(r.Name, func(x rune) bool { return x >= 0xAC00 })
	if foreigner {
		p.Click(j.label("details.nationality.other"))
		p.Fill(j.label("details.country"), "US")
	} else {
		p.Click(j.label("details.nationality.kr"))
		p.Fill(j.label("details.koreanName"), r.Name)
	}
	english := r.Name
	if !foreigner {
		english = "LEE YOUNGHEE"
	}
	p.Fill(j.label("details.englishName"), english)
	p.Fill(j.label("details.phone"), r.Phone)
	first := browser.Role("group", c.s(t, "address.legend", "n", "1"))
	second := browser.Role("group", c.s(t, "address.legend", "n", "2"))
	p.Fill(j.label("address.zip").Within(first), "04524")
	p.Fill(j.label("address.address").Within(first), "Sejong-daero 209")
	p.Click(j.role("button", "address.add"))
	p.Fill(j.label("address.zip").Within(second), "06236")
	p.Fill(j.label("address.address").Within(second), "Teheran-ro 152")
	p.Check("details-filled", "")
	p.Click(j.role("button", "continue"))
	j.heading("issueCheck.title")
	p.Check("issue-check", "")
	p.Click(j.label("issueCheck.consent"))
	p.Click(j.role("button", "issueCheck.submit"))
	j.done("done.issue")
	code := codePattern.FindString(j.pageText())
	if code == "" {
		t.Fatalf("the issue's result shows no code: %s", j.pageText())
	}
	p.Check("issued", "")

	// The holder's page shows it.
	j.toHolderPage()
	if got := j.holderCode(); got != code {
		t.Errorf("the holder's page shows %s, the issue gave %s", got, code)
	}
	j.waitText(c.s(t, "status.active"), 5*time.Second)
	j.waitText("04524", 5*time.Second) // both addresses
	j.waitText("06236", 5*time.Second)
	p.Check("holder", j.doc("holder"))

	// Reissue: the new code, the old one gone.
	p.Click(j.role("link", "me.reissue"))
	j.heading("reissue.title")
	p.Click(j.label("reason.lost"))
	p.Check("reissue", "")
	p.Click(j.role("button", "continue"))
	j.heading("reissueConfirm.title")
	p.Check("reissue-confirm", "")
	p.Click(j.role("button", "reissueConfirm.submit"))
	j.done("done.reissue")
	text := j.pageText()
	codes := codePattern.FindAllString(text, -1)
	if len(codes) < 2 || codes[0] == code || !strings.Contains(text, code) || !strings.Contains(text, c.s(t, "done.oldGone")) {
		t.Errorf("after the reissue the page says %q; want a new code and %s marked %q", text, code, c.s(t, "done.oldGone"))
	}
	p.Check("reissued", "")
	j.toHolderPage()
	newCode := j.holderCode()
	if newCode == code {
		t.Errorf("the holder's page still shows the old code %s", code)
	}
	p.Check("holder-reissued", "")

	// Suspend and resume.
	p.Click(j.role("button", "me.suspend"))
	j.done("done.suspend")
	p.Check("suspended", "")
	j.toHolderPage()
	j.waitText(c.s(t, "status.suspended"), 5*time.Second)
	p.Check("holder-suspended", "")
	p.Click(j.role("button", "me.resume"))
	j.done("done.resume")
	p.Check("resumed", "")
	j.toHolderPage()
	j.waitText(c.s(t, "status.active"), 5*time.Second)

	// A declaration filed by a broker waits for the holder, who confirms it.
	p.Click(j.role("link", "settings.title"))
	j.heading("settings.title")
	p.Check("settings", "")
	p.Click(j.label("settings.on"))
	p.Click(j.role("button", "settings.save"))
	j.waitText(c.s(t, "settings.savedOn"), 10*time.Second)
	p.Check("settings-saved", "")
	waybill := "CJ-" + map[string]string{"ko": "1111111111", "en": "2222222222"}[c.lang]
	body, _ := json.Marshal(map[string]any{
		"code": newCode, "name": r.Name, "phone": r.Phone, "zip": "06236",
		"waybill": waybill, "value": "49.90", "currency": "USD",
		"items": []map[string]any{{"description": "running shoes", "quantity": 1}},
	})
	filed := j.s.file(t, brokerKey, string(body))
	declID, _ := filed.body["id"].(string)
	if filed.status != http.StatusCreated || filed.body["status"] != "pending" {
		t.Fatalf("the broker's filing: %d %s, want 201 pending", filed.status, filed.raw)
	}
	p.Click(j.role("link", "back"))
	j.heading("me.title")
	p.Click(browser.Role("link", j.c.s(t, "me.pending", "n", "1")))
	j.heading("declarations.title")
	j.waitText(waybill, 10*time.Second)
	p.Check("declaration-waiting", "")
	p.Click(j.role("button", "declarations.confirm").Partial())
	j.waitText(c.s(t, "declarations.confirmed", "waybill", waybill), 10*time.Second)
	p.Check("declaration-confirmed", "")
	if v := j.s.brokerSees(t, brokerKey, declID, "accepted"); v["status"] != "accepted" {
		t.Errorf("the broker sees %v after the holder confirmed", v)
	}

	// Cancel, through the confirmation dialog.
	p.Click(j.role("link", "back"))
	j.heading("me.title")
	p.Click(j.role("button", "me.cancel"))
	p.Find(j.role("heading", "cancel.title"))
	p.Check("cancel-dialog", "")
	p.Click(j.role("button", "cancel.confirm"))
	j.done("done.cancel")
	p.Check("cancelled", "")

	// Signing out leaves nothing of the person in the tab.
	p.Click(j.role("button", "signout.button"))
	j.heading("signedOut.title")
	p.Check("signed-out", "")
	if st := p.Storage(); len(st.Session) != 0 {
		t.Errorf("after signing out the tab keeps %s", st)
	}
	j.noSecretsLeft(otp)
}

// noSecretsLeft: no registration number, one-time code or session token in
// localStorage, in any URL the page visited or asked for, or in the
// runner's log.
func (j *journey) noSecretsLeft(otps ...string) {
	t, p := j.t, j.p
	t.Helper()
	front, back, _ := strings.Cut(j.r.RRN, "-")
	secrets := map[string]string{"registration number": front + back, "registration number (back half)": back, "registration number (with dash)": j.r.RRN}
	for i, o := range otps {
		secrets["one-time code "+string(rune('1'+i))] = o
	}
	tokens := map[string]bool{}
	for _, req := range p.Requests() {
		if a := req.Header["authorization"]; strings.HasPrefix(a, "Bearer ") {
			tokens[strings.TrimPrefix(a, "Bearer ")] = true
		}
	}
	if len(tokens) == 0 {
		t.Error("the page sent no session token: the journey did not sign in")
	}
	for tok := range tokens {
		secrets["session token "+tok[:8]+"…"] = tok
	}
	st := p.Storage()
	local, _ := json.Marshal(st.Local)
	urls := strings.Join(p.URLs(), "\n")
	logs := j.s.logs.String()
	for what, v := range secrets {
		if strings.Contains(string(local), v) {
			t.Errorf("%s in localStorage: %s", what, st)
		}
		if strings.Contains(urls, v) {
			t.Errorf("%s in a URL the page visited", what)
		}
		if strings.Contains(logs, v) {
			t.Errorf("%s in the runner's log", what)
		}
	}
	// Nothing from another origin: no CDN, web font or analytics.
	for _, req := range p.Requests() {
		if !strings.HasPrefix(req.URL, j.s.url+"/") && !strings.HasPrefix(req.URL, "data:") {
			t.Errorf("the page asked another origin: %s %s", req.Method, req.URL)
		}
	}
	if errs := p.Errors(); len(errs) != 0 {
		t.Errorf("the page's script errors: %q", errs)
	}
	// The names only: a session still open holds its token, which no log
	// of ours prints.
	var keys []string
	for k := range st.Local {
		keys = append(keys, "localStorage "+k)
	}
	for k := range st.Session {
		keys = append(keys, "sessionStorage "+k)
	}
	sort.Strings(keys)
	t.Logf("kept in the browser after the journey: %q", keys)
}

// reissueCounter wraps the reissue function to see every request that
// reaches it: its Idempotency-Key and the status it got.
type reissueCounter struct {
	mu    sync.Mutex
	calls []reissueCall
}

// probeKey begins the Idempotency-Keys of the test's own reissue probes,
// which the counter leaves out.
const probeKey = "surge-probe-"

type reissueCall struct {
	key    string
	status int
}

func (c *reissueCounter) wrap(reg map[string]platform.Builder) {
	real := reg["codereissue"]
	reg["codereissue"] = func(ctx context.Context, d platform.Deps) (any, error) {
		h, err := real(ctx, d)
		if err != nil {
			return nil, err
		}
		l, ok := h.(httpapi.LambdaHandler)
		if !ok {
			return nil, fmt.Errorf("codereissue: handler is %T", h)
		}
		return httpapi.LambdaHandler(func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			resp, err := l(ctx, ev)
			key := ""
			for k, v := range ev.Headers {
				if strings.EqualFold(k, "Idempotency-Key") {
					key = v
				}
			}
			if !strings.HasPrefix(key, probeKey) {
				c.mu.Lock()
				c.calls = append(c.calls, reissueCall{key: key, status: resp.StatusCode})
				c.mu.Unlock()
			}
			return resp, err
		}), nil
	}
}

func (c *reissueCounter) snapshot() []reissueCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]reissueCall(nil), c.calls...)
}

// TestBrowserSurge: with the line full (admission bounds tight, the workers
// held), a reissue pressed once in the page waits, says so with a
// countdown, survives a reload, and completes by itself once the workers
// come back: one command carried out, every try with the same key.
func TestBrowserSurge(t *testing.T) {
	// hold stops the workers (each batch waits) until let.
	var gate atomic.Pointer[chan struct{}]
	hold := func() { ch := make(chan struct{}); gate.Store(&ch) }
	let := func() {
		if ch := gate.Swap(nil); ch != nil {
			close(*ch)
		}
	}
	defer let()
	reg := functions.WithWorker(func(real functions.Worker) functions.Worker {
		return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			if ch := gate.Load(); ch != nil {
				<-*ch
			}
			return real(ctx, ev)
		}
	})
	var counter reissueCounter
	counter.wrap(reg)
	// Only the line's length turns commands away here: the accepts' own
	// latency bound, which a slow moment of a shared machine can trip for
	// a second, is off (0). A refusal of that kind names no place in line;
	// once one passed for a full line and the page's reissue slipped in.
	s := startWith(t, localstack.Embedded, sessionEnv(map[string]string{"WORKER_RATE": "1", "ADMIT_MAX_WAIT": "4s", "ADMIT_MAX_LATENCY": "0"}), reg)
	t.Cleanup(func() {
		if t.Failed() {
			// What the functions said (no personal data in any line).
			t.Logf("function log:\n%s", s.logs.String())
		}
	})
	r := sim.BuiltIn()[0]
	lineFull := func(r reply) bool {
		e, _ := r.body["error"].(map[string]any)
		return r.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") != "" && e["position"] != nil
	}

	// A live code, issued through the API before the surge.
	tok := s.sessionFor(t, r)
	s.succeeded(t, tok, accepted(t, s.call(t, "POST", "/v1/codes", tok, "", issueBody())))
	hk := holderOf(t, tok)
	before := liveCodesOf(t, s, hk)
	if len(before) != 1 {
		t.Fatalf("live codes before the surge: %v", before)
	}

	j := newJourney(t, s, "ko", r)
	j.sms = 1 // sessionFor read the first SMS
	j.p.Goto(s.url + "/")
	j.p.Click(j.role("link", "start.reissue"))
	j.verify("홍길순")
	j.heading("reissue.title")
	j.p.Click(j.label("reason.lost"))
	j.p.Click(j.role("button", "continue"))
	j.heading("reissueConfirm.title")

	// The surge: the workers stop and other people's commands fill the line
	// until the API turns them away (at one command a second and a 4 s
	// bound, about four), in bursts of six at once. A function's view of
	// the line is a read up to a second old plus what it took since, so a
	// burst can be refused while the line is a command short of the bound
	// (a read that still counted an earlier command: CI at e01ca1b ended
	// with three in line and the page's reissue taken). So the bursts go
	// on, a second and a half apart, until one is refused whole after
	// every function has read the line afresh: then the line itself is at
	// the bound, whoever reads it.
	hold()
	inLine, refusedWhole := 0, false
	for round := 0; round < 8 && !refusedWhole; round++ {
		if round > 0 {
			time.Sleep(1500 * time.Millisecond)
		}
		replies := make([]reply, 6)
		var wg sync.WaitGroup
		for i := range replies {
			tok := mint(t, "surge-"+strconv.Itoa(round*len(replies)+i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				replies[i] = s.call(t, "POST", "/v1/codes", tok, "", issueBody())
			}()
		}
		wg.Wait()
		taken := 0
		for _, r := range replies {
			switch {
			case lineFull(r):
			case r.status != http.StatusAccepted:
				t.Fatalf("filling the line: %d %s", r.status, r.raw)
			default:
				taken++
			}
		}
		inLine += taken
		refusedWhole = round > 0 && taken == 0
	}
	t.Logf("commands in line before the page's reissue: %d", inLine)
	if !refusedWhole {
		t.Fatalf("%d commands in line and the API still takes more: the admission bound is not tight", inLine)
	}
	// The reissue function keeps its own view of the line (its depth read
	// up to a second old): it must be turning commands away too before the
	// person presses, or the page's reissue may slip in. Probed for a
	// holder without a code, with keys the counter leaves out.
	// Two refusals in a row, each naming a place in line.
	deadline := time.Now().Add(15 * time.Second)
	for i, inRow := 0, 0; ; i++ {
		r := s.call(t, "POST", "/v1/codes/me/reissue", mint(t, "surge-probe"), probeKey+strconv.Itoa(i), `{"reason":"lost"}`)
		if lineFull(r) {
			inRow++
		} else {
			inRow = 0
		}
		if inRow == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reissue route still answers %d %s with the line full", r.status, r.raw)
		}
		time.Sleep(300 * time.Millisecond)
	}
	j.p.Click(j.role("button", "reissueConfirm.submit"))
	wait := j.c.s(t, "wait.title")
	j.p.WaitFor(browser.Role("heading", wait), 15*time.Second)
	j.p.Find(browser.Role("timer", "").Partial())
	// It says what it knows: the place in line the API gave with its 503,
	// and the other way to get a code.
	before503, _, _ := strings.Cut(j.c.s(t, "wait.position"), "{n}")
	j.waitText(before503, 5*time.Second)
	j.p.Find(j.role("heading", "alt.title"))
	j.p.Check("surge-waiting", j.doc("surge-waiting"))
	// It retries by itself while the line stays full.
	deadline = time.Now().Add(20 * time.Second)
	for len(counter.snapshot()) < 2 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if n := len(counter.snapshot()); n < 2 {
		t.Fatalf("the page sent the reissue %d times in 20 s of waiting, want it to retry", n)
	}

	// A reload during the wait goes back to waiting for the same request.
	j.p.Reload()
	j.p.WaitFor(browser.Role("heading", wait), 15*time.Second)
	j.p.Check("surge-waiting-reloaded", "")
	sentBefore := len(counter.snapshot())
	deadline = time.Now().Add(20 * time.Second)
	for len(counter.snapshot()) == sentBefore && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if len(counter.snapshot()) == sentBefore {
		t.Fatal("after the reload the page stopped retrying")
	}

	let()
	j.done("done.reissue")
	j.p.Check("surge-reissued", "")
	calls := counter.snapshot()
	keys := map[string]bool{}
	acceptedN := 0
	for _, c := range calls {
		keys[c.key] = true
		if c.status == http.StatusAccepted {
			acceptedN++
		}
		if c.status != http.StatusAccepted && c.status != http.StatusServiceUnavailable && c.status != http.StatusOK {
			t.Errorf("a reissue try got %d", c.status)
		}
	}
	t.Logf("reissue requests that reached the API: %d, %d accepted, keys %d", len(calls), acceptedN, len(keys))
	if acceptedN != 1 || len(keys) != 1 || keys[""] {
		t.Errorf("reissue tries %v: want exactly one accepted, all with one Idempotency-Key", calls)
	}
	after := liveCodesOf(t, s, hk)
	if len(after) != 1 || after[0] == before[0] {
		t.Errorf("live codes after the surge %v (before %v): want one new code", after, before)
	}
	if got := codePattern.FindString(j.pageText()); got != after[0] {
		t.Errorf("the page shows %q as the new code, the table has %v", got, after)
	}

	// A command taken but not yet carried out (the workers held again):
	// the request's page shows it queued, its place in line and the
	// estimated wait, and ends by itself once the workers run.
	hold()
	j.toHolderPage()
	j.p.Click(j.role("button", "me.suspend"))
	j.heading("request.title")
	j.waitText(j.c.s(t, "request.queued"), 10*time.Second)
	beforePos, _, _ := strings.Cut(j.c.s(t, "request.position"), "{n}")
	j.waitText(beforePos, 10*time.Second)
	j.p.Check("queued", "")
	let()
	j.done("done.suspend")
	j.noSecretsLeft()
}
