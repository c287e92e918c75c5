package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// MaxPageBytes is the most one page load may transfer, all files counted,
// compressed as sent (issue 15: at most 150 KB).
const MaxPageBytes = 150 * 1024

// Viewport is a window size the page is checked at.
type Viewport struct {
	Name          string
	Width, Height int64
	Mobile        bool
	Scale         float64 // device pixels per CSS pixel; 0: 2 for a phone, else 1
}

// The two sizes every state is checked at.
var (
	Desktop = Viewport{Name: "desktop", Width: 1280, Height: 800}
	Phone   = Viewport{Name: "phone", Width: 360, Height: 640, Mobile: true}
)

// The sizes of WCAG 1.4.10 and 1.4.4, where every state is checked for
// reflow too: 320 CSS px wide, and the desktop window zoomed to 200 % (a
// zoom halves the CSS pixels and doubles the device pixels per CSS pixel).
var (
	Narrow  = Viewport{Name: "narrow-320", Width: 320, Height: 640, Mobile: true}
	Zoom200 = Viewport{Name: "desktop-zoom-200", Width: Desktop.Width / 2, Height: Desktop.Height / 2, Scale: 2}
)

// Page is one tab in a browser context of its own.
type Page struct {
	t        testing.TB
	ctx      context.Context
	Timeout  time.Duration // how long a lookup waits for its element (default 10 s)
	Lang     string        // the language in screenshot names ("ko", "en")
	viewport Viewport
	shotDir  string
	shots    int

	mu       sync.Mutex
	urls     []string
	requests []Request
	sizes    map[network.RequestID]float64 // bytes of the requests of the current load
	inflight map[network.RequestID]bool
	lastNet  time.Time
	errs     []string // uncaught exceptions and console.error calls
}

// NewPage opens a tab in a new browser context (its own cookies, storage and
// cache), at the desktop size, with the HTTP cache off so every load counts
// all its bytes. The tab closes when the test ends.
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	p := &Page{
		t:        t,
		ctx:      ctx,
		Timeout:  10 * time.Second,
		sizes:    map[network.RequestID]float64{},
		inflight: map[network.RequestID]bool{},
	}
	if err := chromedp.Listen(ctx, p.event); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatalf("disable cache: %v", err)
	}
	// Pages in parallel are all background tabs but one; each behaves as
	// the focused one, so focus and the keyboard work the same in all.
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatalf("focus emulation: %v", err)
	}
	p.SetViewport(Desktop)
	return p
}

// Context is the chromedp context of the tab, for what the helpers lack.
func (p *Page) Context() context.Context { return p.ctx }

// event runs on chromedp's reading goroutine: it only records.
func (p *Page) event(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		p.urls = append(p.urls, e.Request.URL)
		if e.RedirectResponse == nil {
			r := Request{Method: e.Request.Method, URL: e.Request.URL, Header: map[string]string{}}
			for k, v := range e.Request.Headers {
				if s, ok := v.(string); ok {
					r.Header[strings.ToLower(k)] = s
				}
			}
			p.requests = append(p.requests, r)
		}
		if e.RedirectResponse != nil {
			p.sizes[e.RequestID+"#redirect"] += e.RedirectResponse.EncodedDataLength
		}
		p.inflight[e.RequestID] = true
		p.lastNet = time.Now()
	case *network.EventLoadingFinished:
		p.sizes[e.RequestID] = e.EncodedDataLength
		delete(p.inflight, e.RequestID)
		p.lastNet = time.Now()
	case *network.EventLoadingFailed:
		delete(p.inflight, e.RequestID)
		p.lastNet = time.Now()
	case *page.EventNavigatedWithinDocument:
		p.urls = append(p.urls, e.URL) // history.pushState and fragments: no request, still a URL
	case *page.EventFrameNavigated:
		if e.Frame != nil {
			p.urls = append(p.urls, e.Frame.URL+e.Frame.URLFragment)
		}
	case *runtime.EventExceptionThrown:
		if d := e.ExceptionDetails; d != nil {
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			p.errs = append(p.errs, fmt.Sprintf("uncaught: %s (%s:%d)", msg, d.URL, d.LineNumber+1))
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range e.Args {
				if a.Description != "" {
					parts = append(parts, a.Description)
				} else {
					parts = append(parts, string(a.Value))
				}
			}
			p.errs = append(p.errs, "console.error: "+strings.Join(parts, " "))
		}
	}
}

// SetViewport resizes the tab; the page reflows without a reload.
func (p *Page) SetViewport(v Viewport) {
	p.t.Helper()
	scale := v.Scale
	switch {
	case scale > 0:
	case v.Mobile:
		scale = 2 // a phone's screen; screenshots show what a phone shows
	default:
		scale = 1
	}
	_, err := chromedp.Call(p.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: v.Width, Height: v.Height, DeviceScaleFactor: scale, Mobile: v.Mobile,
		ScreenWidth: v.Width, ScreenHeight: v.Height,
	})
	if err != nil {
		p.t.Fatalf("viewport %s: %v", v.Name, err)
	}
	p.viewport = v
}

// Viewport is the size the tab has now.
func (p *Page) Viewport() Viewport { return p.viewport }

// Load is what one page load transferred.
type Load struct {
	URL      string
	Bytes    int64
	Requests int
}

func (l Load) String() string {
	return fmt.Sprintf("%s: %d requests, %.1f KB transferred", l.URL, l.Requests, float64(l.Bytes)/1024)
}

// Goto loads url, waits until the network is quiet and returns what the load
// transferred; it logs the weight and fails the test over MaxPageBytes.
func (p *Page) Goto(url string) Load {
	p.t.Helper()
	return p.load(url, chromedp.Navigate(url))
}

// Reload reloads the page, as the browser's reload button does, and checks
// its weight as Goto does.
func (p *Page) Reload() Load {
	p.t.Helper()
	return p.load(p.URL(), chromedp.Reload())
}

func (p *Page) load(url string, nav chromedp.Action[chromedp.Void]) Load {
	p.t.Helper()
	p.mu.Lock()
	p.sizes = map[network.RequestID]float64{}
	p.inflight = map[network.RequestID]bool{}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, nav); err != nil {
		p.t.Fatalf("load %s: %v", url, err)
	}
	p.networkIdle(500*time.Millisecond, 5*time.Second)
	p.mu.Lock()
	l := Load{URL: url, Requests: len(p.sizes)}
	var total float64
	for _, n := range p.sizes {
		total += n
	}
	p.mu.Unlock()
	l.Bytes = int64(total)
	p.t.Logf("page weight %s", l)
	if l.Bytes > MaxPageBytes {
		p.t.Errorf("page weight %s: over the %d KB budget", l, MaxPageBytes/1024)
	}
	return l
}

// networkIdle waits until no request has been in flight for quiet (or max
// has passed: a page that polls is never idle for long).
func (p *Page) networkIdle(quiet, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		idle := len(p.inflight) == 0 && time.Since(p.lastNet) >= quiet
		p.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// URL is the address the tab shows now.
func (p *Page) URL() string {
	p.t.Helper()
	u, err := chromedp.Run(p.ctx, chromedp.Location())
	if err != nil {
		p.t.Fatalf("location: %v", err)
	}
	return u
}

// URLs is every address the tab navigated to, pushed into its history or
// requested (scripts, styles, API calls), in order.
func (p *Page) URLs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.urls...)
}

// Request is one request the page sent, with the headers it set.
type Request struct {
	Method, URL string
	Header      map[string]string // names in lower case
}

// Requests is every request the tab sent, in order.
func (p *Page) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Errors is every uncaught exception and console.error the page produced.
func (p *Page) Errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// Storage is what the page keeps in the browser for its origin.
type Storage struct {
	Local, Session map[string]string
}

// String lists the entries, sorted, for test messages.
func (s Storage) String() string {
	var b strings.Builder
	for _, part := range []struct {
		name string
		m    map[string]string
	}{{"localStorage", s.Local}, {"sessionStorage", s.Session}} {
		keys := make([]string, 0, len(part.m))
		for k := range part.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "%s (%d):", part.name, len(keys))
		for _, k := range keys {
			fmt.Fprintf(&b, " %q=%q", k, part.m[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Storage reads localStorage and sessionStorage of the page's origin.
func (p *Page) Storage() Storage {
	p.t.Helper()
	raw, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]byte](`(() => {
  const dump = (s) => { const o = {}; for (let i = 0; i < s.length; i++) { const k = s.key(i); o[k] = s.getItem(k); } return o; };
  return { local: dump(localStorage), session: dump(sessionStorage) };
})()`))
	if err != nil {
		p.t.Fatalf("read storage: %v", err)
	}
	var got struct {
		Local   map[string]string `json:"local"`
		Session map[string]string `json:"session"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		p.t.Fatalf("decode storage: %v", err)
	}
	return Storage{Local: got.Local, Session: got.Session}
}

// Eval runs a JavaScript expression in the page and decodes its JSON value
// into out (nil: ignore it). For reading state the helpers do not cover;
// a journey acts through Click, Fill and the keyboard.
func (p *Page) Eval(expr string, out any) {
	p.t.Helper()
	raw, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("eval %s: %v", expr, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			p.t.Fatalf("eval %s: decode %s: %v", expr, raw, err)
		}
	}
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// ScreenshotDir is where this test's screenshots go:
// <repo>/.cache/screenshots/<test name>/ (gitignored), emptied on first use.
func (p *Page) ScreenshotDir() string {
	p.t.Helper()
	if p.shotDir == "" {
		root, err := repoRoot()
		if err != nil {
			p.t.Fatal(err)
		}
		p.shotDir = filepath.Join(root, ".cache", "screenshots", unsafeName.ReplaceAllString(p.t.Name(), "_"))
		if err := os.RemoveAll(p.shotDir); err != nil {
			p.t.Fatal(err)
		}
		if err := os.MkdirAll(p.shotDir, 0o755); err != nil {
			p.t.Fatal(err)
		}
	}
	return p.shotDir
}

// Screenshot saves the whole page as NN-step-lang-viewport.png in
// ScreenshotDir and returns its path. With docName set and
// PCCC_UPDATE_SCREENSHOTS=1 it also copies the shot to
// docs/screenshots/<docName>, for the README.
func (p *Page) Screenshot(step, docName string) string {
	p.t.Helper()
	dir := p.ScreenshotDir()
	p.shots++
	parts := []string{fmt.Sprintf("%02d", p.shots), step}
	if p.Lang != "" {
		parts = append(parts, p.Lang)
	}
	parts = append(parts, p.viewport.Name)
	name := unsafeName.ReplaceAllString(strings.Join(parts, "-"), "_") + ".png"
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	if docName != "" && os.Getenv(UpdateScreenshotsEnv) == "1" {
		root, _ := repoRoot()
		docs := filepath.Join(root, "docs", "screenshots")
		if err := os.MkdirAll(docs, 0o755); err != nil {
			p.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(docs, docName), png, 0o644); err != nil {
			p.t.Fatal(err)
		}
		p.t.Logf("copied %s to docs/screenshots/%s", name, docName)
	}
	return path
}

// backendCall runs one CDP command on the tab.
func backendCall[P, R any](p *Page, cmd cdp.Command[P, R], params P) (R, error) {
	return chromedp.Call(p.ctx, cmd, params)
}
