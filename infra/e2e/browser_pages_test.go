package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/pccc/pccc/infra/browser"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
)

// pageRoutes is every path the page's router knows (ROUTES in
// web/js/app.js), read from the file so a new page is weighed too.
func pageRoutes(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "web", "js", "app.js"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)const ROUTES = \{(.*?)\};`).FindSubmatch(b)
	if block == nil {
		t.Fatal("web/js/app.js has no `const ROUTES = {...};`")
	}
	var routes []string
	for _, m := range regexp.MustCompile(`'(/[^']*)':`).FindAllSubmatch(block[1], -1) {
		routes = append(routes, string(m[1]))
	}
	if len(routes) < 15 {
		t.Fatalf("only %d routes read from ROUTES: the pattern is broken (%v)", len(routes), routes)
	}
	return routes
}

// TestBrowserPageWeight: the first load of every page, signed in as a
// holder with a code (so the holder's pages load what they show), and of
// an unknown address (the cache off, nothing is reused from the load
// before): each load's weight, all files and API answers
// counted as transferred, printed and held to 150 KB (Goto fails the test
// over it). The not-found page is audited too.
func TestBrowserPageWeight(t *testing.T) {
	s := start(t, localstack.Embedded, sessionEnv(nil))
	r := sim.BuiltIn()[2]
	tok := s.sessionFor(t, r)
	s.succeeded(t, tok, accepted(t, s.call(t, "POST", "/v1/codes", tok, "", issueBody())))
	held, _ := json.Marshal(map[string]string{"token": tok, "expiresAt": time.Now().Add(14 * time.Minute).UTC().Format(time.RFC3339)})

	j := newJourney(t, s, "ko", r)
	var weights []string
	var heaviest browser.Load
	// One tab, signed in: its cache is off, so each load is a first load
	// with every file sent again.
	p := j.p
	p.Goto(s.url + "/")
	var ok bool
	p.Eval(`(sessionStorage.setItem('pccc.session', `+strconv.Quote(string(held))+`), true)`, &ok)
	for _, path := range append(pageRoutes(t), "/no-such-page") {
		l := p.Goto(s.url + path)
		weights = append(weights, strings.TrimPrefix(l.String(), s.url))
		if l.Bytes > heaviest.Bytes {
			heaviest = l
		}
		if l.Requests < 10 {
			t.Errorf("%s: only %d requests: the page did not load its files", path, l.Requests)
		}
		if path == "/no-such-page" {
			p.Find(j.role("heading", "notFound.title"))
			p.Check("not-found", "")
		}
	}
	t.Logf("first load of each page (budget %d KB):\n  %s", browser.MaxPageBytes/1024, strings.Join(weights, "\n  "))
	t.Logf("heaviest: %s", strings.TrimPrefix(heaviest.String(), s.url))
}

// TestBrowserWithoutJavaScript: with scripts off the page says, in both
// languages, that it needs JavaScript and names the other way to get a
// code (in person at a customs office, with an ID card); the state passes
// axe-core at both sizes.
func TestBrowserWithoutJavaScript(t *testing.T) {
	s := start(t, localstack.Embedded, nil)
	p := browser.Shared(t).NewPage(t)
	if _, err := chromedp.Call(p.Context(), emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	p.Lang = "ko"
	p.Goto(s.url + "/")
	ko, en := loadCatalogue(t, "ko"), loadCatalogue(t, "en")
	p.Find(browser.Role("heading", ko.s(t, "noscript.title")))
	p.Find(browser.Role("heading", en.s(t, "noscript.title")))
	var text string
	p.Eval(`document.body.innerText`, &text)
	text = strings.Join(strings.Fields(text), " ")
	for _, want := range []string{ko.s(t, "noscript.body"), en.s(t, "noscript.body"), "세관", "customs office", "ID card"} {
		if !strings.Contains(text, want) {
			t.Errorf("without JavaScript the page does not say %q; it says: %s", want, text)
		}
	}
	// Only the message: no step of the journey shows without its script.
	for _, h := range p.All(browser.Role("heading", "").Partial()) {
		if h.Name != ko.s(t, "noscript.title") && h.Name != en.s(t, "noscript.title") {
			t.Errorf("without JavaScript a heading %q shows", h.Name)
		}
	}
	var h1 []string
	p.Eval(`[...document.querySelectorAll('h1')].filter((h) => h.getClientRects().length > 0).map((h) => h.textContent.trim())`, &h1)
	if len(h1) != 1 || h1[0] != ko.s(t, "noscript.title") {
		t.Errorf("without JavaScript the visible level-one headings are %q, want the message's", h1)
	}
	for _, v := range []browser.Viewport{browser.Desktop, browser.Phone, browser.Narrow, browser.Zoom200} {
		p.SetViewport(v)
		p.CheckReflow("noscript")
		if v == browser.Desktop || v == browser.Phone {
			p.Screenshot("noscript", "")
		}
	}
	// axe-core needs scripts (its timers do not run with them off): turned
	// back on for the audit, the page already parsed never runs its own
	// script. axe-core takes a <noscript> as hidden (it assumes scripts
	// on), so it audits the rest of the page (the header the noscript
	// stylesheet trims, the footer); its one-heading rule is off, the
	// heading having been checked above.
	if _, err := chromedp.Call(p.Context(), emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []browser.Viewport{browser.Desktop, browser.Phone} {
		p.SetViewport(v)
		if vs := p.AxeExcept("page-has-heading-one"); len(vs) != 0 {
			t.Errorf("axe-core without JavaScript (%s): %v", v.Name, vs)
		}
	}
	if h := p.All(browser.Role("heading", ko.s(t, "start.title"))); len(h) != 0 {
		t.Error("turning scripts on for the audit ran the page's own script")
	}
}
