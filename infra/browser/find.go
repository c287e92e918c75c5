package browser

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Target describes an element as a person (or a screen reader) finds it:
// by its role and accessible name, as Chromium computes them, never by CSS.
type Target struct {
	Role     string // ARIA role ("button", "heading", "link", "textbox"...); empty with Label
	Name     string // accessible name, whitespace collapsed
	Contains bool   // the name contains Name instead of equalling it
	label    bool   // any form control named Name (its <label>, aria-label...)
	within   *Target
}

// Role is the element with this role and accessible name.
func Role(role, name string) Target { return Target{Role: role, Name: name} }

// Label is the form field whose label (accessible name) is name, whatever
// kind of field it is.
func Label(name string) Target { return Target{Name: name, label: true} }

// Partial matches names that contain the given text.
func (t Target) Partial() Target { t.Contains = true; return t }

// Within matches only inside an element matching outer: the "zip code"
// field of the group "Address 2", as a person tells two alike fields apart.
func (t Target) Within(outer Target) Target { t.within = &outer; return t }

func (t Target) String() string {
	kind := t.Role
	if t.label {
		kind = "field labelled"
	}
	op := ""
	if t.Contains {
		op = "~"
	}
	s := fmt.Sprintf("%s %s%q", kind, op, t.Name)
	if t.within != nil {
		s += " in " + t.within.String()
	}
	return s
}

// formRoles are the roles a labelled field can have.
var formRoles = map[string]bool{
	"textbox": true, "searchbox": true, "combobox": true, "listbox": true,
	"checkbox": true, "radio": true, "switch": true, "spinbutton": true, "slider": true,
}

// Element is one node of the page's accessibility tree.
type Element struct {
	p        *Page
	id       cdp.BackendNodeID
	parent   *Element // the nearest perceivable ancestor
	Role     string
	Name     string
	Value    string
	Disabled bool
	Checked  string // "true", "false", "mixed" or "" (not checkable)
	Focused  bool
}

func (e *Element) String() string { return fmt.Sprintf("%s %q", e.Role, e.Name) }

func axString(v *accessibility.Value) string {
	if v == nil || len(v.Value) == 0 {
		return ""
	}
	var s string
	if err := json.Unmarshal(v.Value, &s); err != nil {
		return strings.Trim(string(v.Value), `"`)
	}
	return s
}

func normalize(s string) string { return strings.Join(strings.Fields(s), " ") }

func (p *Page) element(n *accessibility.Node) *Element {
	e := &Element{p: p, id: n.BackendDOMNodeID, Role: axString(n.Role), Name: normalize(axString(n.Name)), Value: axString(n.Value)}
	for _, prop := range n.Properties {
		switch prop.Name {
		case accessibility.PropertyNameDisabled:
			e.Disabled = strings.TrimSpace(string(prop.Value.Value)) == "true"
		case accessibility.PropertyNameChecked:
			e.Checked = axString(prop.Value)
		case accessibility.PropertyNameFocused:
			e.Focused = strings.TrimSpace(string(prop.Value.Value)) == "true"
		}
	}
	return e
}

// Tree is every element of the page's accessibility tree that a person can
// perceive (ignored nodes left out), in document order.
func (p *Page) Tree() []*Element {
	p.t.Helper()
	els, err := p.tree()
	if err != nil {
		p.t.Fatalf("accessibility tree: %v", err)
	}
	return els
}

func (p *Page) tree() ([]*Element, error) {
	res, err := backendCall(p, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		return nil, err
	}
	// Parents through ignored nodes, so Within sees the perceivable ancestor.
	byID := map[accessibility.NodeID]*accessibility.Node{}
	for _, n := range res.Nodes {
		byID[n.NodeID] = n
	}
	els := map[accessibility.NodeID]*Element{}
	var out []*Element
	for _, n := range res.Nodes {
		if n.Ignored || n.BackendDOMNodeID == 0 {
			continue
		}
		e := p.element(n)
		els[n.NodeID] = e
		out = append(out, e)
	}
	// The tree gives children reliably, parents not always.
	parentOf := map[accessibility.NodeID]accessibility.NodeID{}
	for _, n := range res.Nodes {
		if n.ParentID != "" {
			parentOf[n.NodeID] = n.ParentID
		}
		for _, c := range n.ChildIDs {
			parentOf[c] = n.NodeID
		}
	}
	for _, n := range res.Nodes {
		e := els[n.NodeID]
		if e == nil {
			continue
		}
		for up := byID[parentOf[n.NodeID]]; up != nil; up = byID[parentOf[up.NodeID]] {
			if pe := els[up.NodeID]; pe != nil {
				e.parent = pe
				break
			}
		}
	}
	return out, nil
}

func (t Target) matches(e *Element) bool {
	if t.label {
		if !formRoles[e.Role] {
			return false
		}
	} else if e.Role != t.Role {
		return false
	}
	want := normalize(t.Name)
	if t.Contains && !strings.Contains(e.Name, want) || !t.Contains && e.Name != want {
		return false
	}
	if t.within == nil {
		return true
	}
	for up := e.parent; up != nil; up = up.parent {
		if t.within.matches(up) {
			return true
		}
	}
	return false
}

// All is every element matching t now, without waiting.
func (p *Page) All(t Target) []*Element {
	p.t.Helper()
	var out []*Element
	for _, e := range p.Tree() {
		if t.matches(e) {
			out = append(out, e)
		}
	}
	return out
}

// Has says whether an element matching t is on the page now.
func (p *Page) Has(t Target) bool {
	p.t.Helper()
	return len(p.All(t)) > 0
}

// Find waits (up to p.Timeout) for the first element matching t and fails
// the test, listing what the page does offer, when none comes.
func (p *Page) Find(t Target) *Element {
	p.t.Helper()
	e, err := p.waitFor(t, p.Timeout)
	if err != nil {
		p.t.Fatal(err)
	}
	return e
}

// WaitFor is Find with its own timeout.
func (p *Page) WaitFor(t Target, timeout time.Duration) *Element {
	p.t.Helper()
	e, err := p.waitFor(t, timeout)
	if err != nil {
		p.t.Fatal(err)
	}
	return e
}

func (p *Page) waitFor(t Target, timeout time.Duration) (*Element, error) {
	deadline := time.Now().Add(timeout)
	for {
		els, err := p.tree()
		if err == nil {
			for _, e := range els {
				if t.matches(e) {
					return e, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no %s on %s after %s; the page offers:\n%s", t, p.currentURL(), timeout, describe(els, t))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitGone waits until no element matches t.
func (p *Page) WaitGone(t Target, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for p.Has(t) {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s still on the page after %s", t, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *Page) currentURL() string {
	u, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return u
}

// describe lists the named elements (the ones of t's role first), so a
// failed lookup says what a person would have seen instead.
func describe(els []*Element, t Target) string {
	var same, other []string
	for _, e := range els {
		if e.Name == "" || e.Role == "StaticText" || e.Role == "InlineTextBox" || e.Role == "generic" || e.Role == "paragraph" {
			continue
		}
		line := "  " + e.String()
		if e.Disabled {
			line += " (disabled)"
		}
		if e.Role == t.Role || (t.label && formRoles[e.Role]) {
			same = append(same, line)
		} else {
			other = append(other, line)
		}
	}
	all := append(same, other...)
	if len(all) > 60 {
		all = append(all[:60], "  ...")
	}
	return strings.Join(all, "\n")
}

// Text is the visible text of the element (its innerText).
func (e *Element) Text() string {
	e.p.t.Helper()
	var s string
	e.call(`function() { return this.innerText || this.textContent || ""; }`, &s)
	return s
}

// call runs fn with the element's DOM node as this and decodes its result.
func (e *Element) call(fn string, out any, args ...any) {
	e.p.t.Helper()
	res, err := backendCall(e.p, dom.ResolveNode, dom.ResolveNodeParams{BackendNodeID: e.id})
	if err != nil {
		e.p.t.Fatalf("%s: resolve: %v", e, err)
	}
	var cargs []*runtime.CallArgument
	for _, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			e.p.t.Fatal(err)
		}
		cargs = append(cargs, &runtime.CallArgument{Value: b})
	}
	r, err := backendCall(e.p, runtime.CallFunctionOn, runtime.CallFunctionOnParams{
		FunctionDeclaration: fn, ObjectID: res.Object.ObjectID, Arguments: cargs,
		ReturnByValue: new(true), AwaitPromise: new(true),
	})
	if err != nil {
		e.p.t.Fatalf("%s: %v", e, err)
	}
	if r.ExceptionDetails != nil {
		e.p.t.Fatalf("%s: %s", e, r.ExceptionDetails.Text)
	}
	if out != nil && r.Result != nil && len(r.Result.Value) > 0 {
		if err := json.Unmarshal(r.Result.Value, out); err != nil {
			e.p.t.Fatalf("%s: decode %s: %v", e, r.Result.Value, err)
		}
	}
}

// Click scrolls the element into view and clicks its middle with the mouse,
// as a person does (so whatever covers it gets the click instead). It waits
// for a disabled element to become enabled first, and for its box to hold
// still: a page that is still laying itself out (data arriving above the
// element) would move it between the reading of its place and the click.
func (e *Element) Click() {
	e.p.t.Helper()
	if e.Disabled {
		e = e.p.waitEnabled(e)
	}
	if _, err := backendCall(e.p, dom.ScrollIntoViewIfNeeded, dom.ScrollIntoViewIfNeededParams{BackendNodeID: e.id}); err != nil {
		e.p.t.Fatalf("click %s: scroll: %v", e, err)
	}
	x, y := e.settledMiddle()
	if err := chromedp.Do(e.p.ctx, chromedp.MouseClickXY(x, y)); err != nil {
		e.p.t.Fatalf("click %s: %v", e, err)
	}
}

// settledMiddle is the middle of the element's box once two readings 50 ms
// apart agree and the element itself (or something inside it) is what the
// page has at that point; after the page's timeout it is the last reading,
// so an element that stays covered still gets a person's click.
func (e *Element) settledMiddle() (x, y float64) {
	e.p.t.Helper()
	deadline := time.Now().Add(e.p.Timeout)
	var last []float64
	for {
		quads, err := backendCall(e.p, dom.GetContentQuads, dom.GetContentQuadsParams{BackendNodeID: e.id})
		if err != nil || len(quads.Quads) == 0 || len(quads.Quads[0]) < 8 {
			e.p.t.Fatalf("click %s: it has no box on screen (%v)", e, err)
		}
		q := quads.Quads[0]
		x, y = (q[0]+q[2]+q[4]+q[6])/4, (q[1]+q[3]+q[5]+q[7])/4
		if sameQuad(last, q) && e.hitAt(x, y) {
			return x, y
		}
		if time.Now().After(deadline) {
			e.p.t.Logf("click %s: its box did not settle, or stayed covered, for %s; clicking where it is now", e, e.p.Timeout)
			return x, y
		}
		last = q
		time.Sleep(50 * time.Millisecond)
	}
}

func sameQuad(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// hitAt reports whether a click at (x, y) reaches the element: the topmost
// node there, in the element's own document or shadow root, is it, inside
// it, or a label of it.
func (e *Element) hitAt(x, y float64) bool {
	e.p.t.Helper()
	var hit bool
	e.call(`function(x, y) {
		const root = this.getRootNode();
		const top = (root.elementFromPoint ? root : document).elementFromPoint(x, y);
		if (this.nodeType !== Node.ELEMENT_NODE || top === null) return true;
		const label = top.closest('label');
		return top === this || this.contains(top) || (label !== null && label.control === this);
	}`, &hit, x, y)
	return hit
}

func (p *Page) waitEnabled(e *Element) *Element {
	p.t.Helper()
	deadline := time.Now().Add(p.Timeout)
	for {
		for _, n := range p.Tree() {
			if n.id == e.id && !n.Disabled {
				return n
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s stays disabled", e)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Focus gives the element the keyboard focus.
func (e *Element) Focus() {
	e.p.t.Helper()
	if _, err := backendCall(e.p, dom.Focus, dom.FocusParams{BackendNodeID: e.id}); err != nil {
		e.p.t.Fatalf("focus %s: %v", e, err)
	}
}

// Fill clicks into the field, selects what it holds and types text over it.
func (e *Element) Fill(text string) {
	e.p.t.Helper()
	e.Click()
	e.call(`function() { if (typeof this.select === "function") this.select(); }`, nil)
	e.p.Type(text)
}

// SelectOption picks the option with this visible text in a <select>, as
// choosing it from the list does (input and change events).
func (e *Element) SelectOption(label string) {
	e.p.t.Helper()
	var ok bool
	e.call(`function(label) {
  const norm = (s) => s.replace(/\s+/g, " ").trim();
  for (const o of this.options || []) {
    if (norm(o.label || o.text) === norm(label)) {
      this.focus();
      this.value = o.value;
      this.dispatchEvent(new Event("input", { bubbles: true }));
      this.dispatchEvent(new Event("change", { bubbles: true }));
      return true;
    }
  }
  return false;
}`, &ok, label)
	if !ok {
		e.p.t.Fatalf("%s has no option %q", e, label)
	}
}

// Click finds the element matching t and clicks it.
func (p *Page) Click(t Target) {
	p.t.Helper()
	p.Find(t).Click()
}

// Fill finds the field matching t and types text into it.
func (p *Page) Fill(t Target, text string) {
	p.t.Helper()
	p.Find(t).Fill(text)
}

// Select picks an option of the <select> matching t.
func (p *Page) Select(t Target, option string) {
	p.t.Helper()
	p.Find(t).SelectOption(option)
}

// Keys for Press.
const (
	Tab       = kb.Tab
	Enter     = kb.Enter
	Space     = " "
	Esc       = kb.Escape
	ArrowDown = kb.ArrowDown
	ArrowUp   = kb.ArrowUp
)

// Press sends key presses (Tab, Enter, Space, arrows from package kb) to
// whatever has the focus.
func (p *Page) Press(keys ...string) {
	p.t.Helper()
	for _, k := range keys {
		if err := chromedp.Do(p.ctx, chromedp.KeyEvent(k)); err != nil {
			p.t.Fatalf("press %q: %v", k, err)
		}
	}
}

// SelectAll selects the focused field's text with Ctrl+A, so what is typed
// next replaces it.
func (p *Page) SelectAll() {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl))); err != nil {
		p.t.Fatalf("ctrl+a: %v", err)
	}
}

// ShiftTab moves the focus backwards.
func (p *Page) ShiftTab() {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))); err != nil {
		p.t.Fatalf("shift+tab: %v", err)
	}
}

// Type types text into the focused element: ASCII key by key (keydown,
// keypress, input, keyup), other text (Hangul) as an input method commits it.
func (p *Page) Type(text string) {
	p.t.Helper()
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		if _, err := backendCall(p, input.InsertText, input.InsertTextParams{Text: string(run)}); err != nil {
			p.t.Fatalf("type %q: %v", string(run), err)
		}
		run = run[:0]
	}
	for _, r := range text {
		if r >= 0x20 && r < 0x7f {
			flush()
			if err := chromedp.Do(p.ctx, chromedp.KeyEvent(string(r))); err != nil {
				p.t.Fatalf("type %q: %v", r, err)
			}
			continue
		}
		run = append(run, r)
	}
	flush()
}

// Focused is the element that has the keyboard focus, as the accessibility
// tree names it (nil when the focus is on the page itself).
func (p *Page) Focused() *Element {
	p.t.Helper()
	obj, err := chromedp.Run(p.ctx, chromedp.Evaluate[*runtime.RemoteObject](`document.activeElement`))
	if err != nil || obj == nil || obj.ObjectID == "" {
		return nil
	}
	desc, err := backendCall(p, dom.DescribeNode, dom.DescribeNodeParams{ObjectID: obj.ObjectID})
	if err != nil || desc.Node == nil {
		p.t.Fatalf("describe the focused element: %v", err)
	}
	if desc.Node.NodeName == "BODY" || desc.Node.NodeName == "HTML" {
		return nil
	}
	// From the whole tree, so the element knows its ancestors (Within).
	for _, e := range p.Tree() {
		if e.id == desc.Node.BackendNodeID {
			return e
		}
	}
	res, err := backendCall(p, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{BackendNodeID: desc.Node.BackendNodeID, FetchRelatives: new(false)})
	if err != nil || len(res.Nodes) == 0 {
		p.t.Fatalf("accessibility node of the focused element: %v", err)
	}
	return p.element(res.Nodes[0])
}

// TabTo presses Tab until the element matching t has the focus, at most
// max times, and fails the test when it never gets there: the keyboard
// route a person without a mouse takes.
func (p *Page) TabTo(t Target, max int) *Element {
	p.t.Helper()
	var seen []string
	for range max {
		p.Press(Tab)
		f := p.Focused()
		if f == nil {
			seen = append(seen, "(page)")
			continue
		}
		if t.matches(f) {
			return f
		}
		seen = append(seen, f.String())
	}
	p.t.Fatalf("%d Tabs never reached %s; the focus went to: %s", max, t, strings.Join(seen, " -> "))
	return nil
}

// Sleep waits while the page works on its own (a countdown, a poll).
func (p *Page) Sleep(d time.Duration) {
	select {
	case <-time.After(d):
	case <-p.ctx.Done():
	}
}
