package browser

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/runtime"
)

// Violation is one rule axe-core found broken, with the elements that break it.
type Violation struct {
	Rule    string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	HelpURL string   `json:"helpUrl"`
	Targets []string `json:"targets"` // CSS paths axe reports, to find the element; not for lookups
	Summary []string `json:"summary"` // axe's "fix any of..." text per element
}

func (v Violation) String() string {
	return fmt.Sprintf("%s (%s): %s\n      at %s\n      %s", v.Rule, v.Impact, v.Help, strings.Join(v.Targets, ", "), strings.Join(v.Summary, "\n      "))
}

var axeSource struct {
	once sync.Once
	js   string
	err  error
}

func loadAxe() (string, error) {
	axeSource.once.Do(func() {
		path, err := AxePath()
		if err != nil {
			axeSource.err = err
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			axeSource.err = fmt.Errorf("axe-core: %w (run `make tools`)", err)
			return
		}
		axeSource.js = string(b)
	})
	return axeSource.js, axeSource.err
}

// axeRun audits the document with every rule axe-core runs by default (the
// WCAG 2.0-2.2 A and AA rules and its best practices), and returns the
// violations.
const axeRun = `axe.run(document, { resultTypes: ["violations"], rules: %s }).then(r => r.violations.map(v => ({
  id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
  targets: v.nodes.map(n => n.target.join(" ")),
  summary: v.nodes.map(n => (n.failureSummary || "").replace(/\n/g, " ")),
})))`

// Axe injects the pinned axe-core into the page as it is now (from the
// DevTools side, so the page's Content-Security-Policy is untouched) and
// returns what it finds.
func (p *Page) Axe() []Violation {
	p.t.Helper()
	return p.AxeExcept()
}

// AxeExcept is Axe with the named rules off, for a state axe-core cannot
// judge by a rule (say, a page seen with scripts off, whose <noscript>
// axe-core takes as hidden); the caller checks what the rule would have by
// other means.
func (p *Page) AxeExcept(rules ...string) []Violation {
	p.t.Helper()
	off := map[string]map[string]bool{}
	for _, r := range rules {
		off[r] = map[string]bool{"enabled": false}
	}
	offJSON, _ := json.Marshal(off)
	js, err := loadAxe()
	if err != nil {
		missing(p.t, err)
	}
	var present bool
	p.Eval(`typeof window.axe === "object"`, &present)
	if !present {
		r, err := backendCall(p, runtime.Evaluate, runtime.EvaluateParams{Expression: js, Silent: new(true)})
		if err != nil {
			p.t.Fatalf("inject axe-core: %v", err)
		}
		if r.ExceptionDetails != nil {
			p.t.Fatalf("inject axe-core: %s", r.ExceptionDetails.Text)
		}
	}
	var raw json.RawMessage
	p.Eval(fmt.Sprintf(axeRun, offJSON), &raw)
	var vs []Violation
	if err := json.Unmarshal(raw, &vs); err != nil {
		p.t.Fatalf("decode axe results: %v", err)
	}
	return vs
}

// CheckAxe fails the test (without stopping it) for every axe-core
// violation in the page's current state, named by state.
func (p *Page) CheckAxe(state string) {
	p.t.Helper()
	vs := p.Axe()
	if len(vs) == 0 {
		return
	}
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = "  " + v.String()
	}
	p.t.Errorf("axe-core: %d violations at %q (%s, %s):\n%s", len(vs), state, p.Lang, p.viewport.Name, strings.Join(lines, "\n"))
}

// CheckReflow fails the test when the page scrolls sideways at its current
// size (WCAG 1.4.10: content reflows at 320 CSS px without a horizontal
// scroll).
func (p *Page) CheckReflow(state string) {
	p.t.Helper()
	// Against the emulated width, not innerWidth: a mobile viewport widens
	// its layout to fit content that overflows.
	var scroll int64
	p.Eval(`document.documentElement.scrollWidth`, &scroll)
	if scroll > p.viewport.Width {
		p.t.Errorf("%q (%s, %s) scrolls sideways: %d px of content in a %d px window", state, p.Lang, p.viewport.Name, scroll, p.viewport.Width)
	}
	// A code shown large stays on one line and inside the window.
	var broken []string
	p.Eval(`[...document.querySelectorAll('.code-display__value')].filter((e) => e.offsetParent !== null && e.textContent.trim() !== '').flatMap((e) => {
		const r = e.getBoundingClientRect(), fs = parseFloat(getComputedStyle(e).fontSize);
		return (r.height > 2 * fs || r.right > document.documentElement.clientWidth + 0.5) ? [Math.round(r.width) + 'x' + Math.round(r.height) + ' at ' + fs + 'px'] : [];
	})`, &broken)
	for _, b := range broken {
		p.t.Errorf("%q (%s, %s): a large code wraps or overflows (%s)", state, p.Lang, p.viewport.Name, b)
	}
}

// Check is what every state of a journey gets: for the desktop and the phone
// size, an axe-core audit, a reflow check and a screenshot; a reflow check
// at 320 px and at the desktop zoomed to 200 %; the tab is left at the size
// it had. docName, when set, names the shots' copies under docs/screenshots
// (docName-desktop.png, docName-phone.png; see Screenshot).
func (p *Page) Check(state, docName string) {
	p.t.Helper()
	was := p.viewport
	for _, v := range []Viewport{Desktop, Phone} {
		p.SetViewport(v)
		p.CheckAxe(state)
		p.CheckReflow(state)
		doc := ""
		if docName != "" {
			doc = docName + "-" + v.Name + ".png"
		}
		p.Screenshot(state, doc)
	}
	for _, v := range []Viewport{Narrow, Zoom200} {
		p.SetViewport(v)
		p.CheckReflow(state)
	}
	p.SetViewport(was)
}
