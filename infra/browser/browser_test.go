package browser

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// blobSize is the body of /blob.js: a comment of random letters, so no
// compression shrinks it. (A script, not an image: Chromium stops
// downloading an image it cannot decode.)
const blobSize = 40_000

// site is the harness's own test page set.
func site(t *testing.T) *httptest.Server {
	t.Helper()
	blob := randomScript(blobSize)
	heavy := randomScript(200_000)
	pages := map[string]string{
		"/good": `<!doctype html><html lang="ko"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>좋은 쪽</title></head>
<body><header><p>공식 누리집</p></header><main><h1>개인통관고유부호</h1>
<form id="f" novalidate>
  <label for="name">이름</label><input id="name" name="name" autocomplete="name">
  <span id="rrn-label">주민등록번호</span><input id="rrn" aria-labelledby="rrn-label" inputmode="numeric">
  <label for="carrier">통신사</label><select id="carrier"><option value="">고르세요</option><option value="skt">SKT</option><option value="kt">KT</option></select>
  <input type="checkbox" id="agree"><label for="agree">동의합니다</label>
  <button type="submit">보내기</button>
</form>
<p role="status" id="out"></p>
<a href="/second">다음 쪽</a>
</main><script src="/good.js"></script></body></html>`,
		"/good.js": `document.getElementById("f").addEventListener("submit", (e) => {
  e.preventDefault();
  const f = e.target;
  document.getElementById("out").textContent = "받음: " + f.name.value + " / " + f.rrn.value + " / " + f.carrier.value + " / " + document.getElementById("agree").checked;
  localStorage.setItem("lang", "ko");
  sessionStorage.setItem("step", "2");
  history.pushState({}, "", "/good?step=2");
});`,
		"/bad": `<!doctype html><html><head><title>나쁜 쪽</title></head><body>
<img src="/nothing.png"><input type="text"><p style="color:#bbb;background:#fff">흐린 글</p></body></html>`,
		"/wide":    `<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>wide</title></head><body><main><h1>wide</h1><p style="width:500px">a fixed width</p></main></body></html>`,
		"/w340":    `<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>w340</title></head><body><main><h1>w340</h1><p style="width:340px;margin:0">fits 360 px, not 320</p></main></body></html>`,
		"/w700":    `<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width, initial-scale=1"><title>w700</title></head><body><main><h1>w700</h1><p style="width:700px">fits 1280 px, not 1280 px at 200 %</p></main></body></html>`,
		"/weighed": `<!doctype html><html lang="en"><head><title>weighed</title></head><body><main><h1>weighed</h1></main><script src="/blob.js"></script></body></html>`,
		"/heavy":   `<!doctype html><html lang="en"><head><title>heavy</title></head><body><main><h1>heavy</h1></main><script src="/heavy.js"></script></body></html>`,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/blob.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write(blob)
			return
		case "/heavy.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write(heavy)
			return
		}
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		ct := "text/html; charset=utf-8"
		if strings.HasSuffix(r.URL.Path, ".js") {
			ct = "text/javascript"
		}
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write([]byte(body))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestAxeFindsTheViolationsOfABadPage(t *testing.T) {
	srv := site(t)
	p := Shared(t).NewPage(t)
	p.Goto(srv.URL + "/bad")
	vs := p.Axe()
	var rules []string
	for _, v := range vs {
		rules = append(rules, v.Rule)
		if v.Impact == "" || v.Help == "" || len(v.Targets) == 0 {
			t.Errorf("violation without impact, help or target: %+v", v)
		}
	}
	for _, want := range []string{"html-has-lang", "image-alt", "label", "color-contrast"} {
		if !slices.Contains(rules, want) {
			t.Errorf("axe-core did not report %s on the bad page; it reported %v", want, rules)
		}
	}
	t.Logf("axe-core on the bad page:\n%v", vs)
	// A rule turned off is not reported; the others still are.
	for _, v := range p.AxeExcept("image-alt") {
		if v.Rule == "image-alt" {
			t.Errorf("AxeExcept(image-alt) reported %v", v)
		}
	}
	if n := len(p.AxeExcept("image-alt")); n != len(vs)-1 {
		t.Errorf("AxeExcept(image-alt) found %d violations, want the %d others", n, len(vs)-1)
	}
}

func TestAxeFindsNothingOnAGoodPage(t *testing.T) {
	srv := site(t)
	p := Shared(t).NewPage(t)
	p.Goto(srv.URL + "/good")
	for _, v := range []Viewport{Desktop, Phone} {
		p.SetViewport(v)
		if vs := p.Axe(); len(vs) != 0 {
			t.Errorf("axe-core at %s: %v", v.Name, vs)
		}
	}
}

func TestReflowCheckCatchesASidewaysScroll(t *testing.T) {
	srv := site(t)
	rec := &recorder{TB: t}
	p := Shared(t).NewPage(rec)
	p.SetViewport(Phone)
	p.Goto(srv.URL + "/good")
	p.CheckReflow("good")
	if len(rec.errors) != 0 {
		t.Errorf("the good page at 360 px: %q", rec.errors)
	}
	p.Goto(srv.URL + "/wide")
	p.CheckReflow("wide")
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "scrolls sideways") {
		t.Errorf("a 500 px paragraph at 360 px reported %q", rec.errors)
	}
}

// Check's reflow at 320 px and at 200 % zoom catches what the desktop and
// the phone size let through.
func TestReflowAt320AndAtZoom200(t *testing.T) {
	srv := site(t)
	for _, tc := range []struct {
		page     string
		fits     Viewport
		overflow Viewport
	}{
		{"/w340", Phone, Narrow},
		{"/w700", Desktop, Zoom200},
	} {
		rec := &recorder{TB: t}
		p := Shared(t).NewPage(rec)
		p.Goto(srv.URL + tc.page)
		p.SetViewport(tc.fits)
		p.CheckReflow(tc.page)
		if len(rec.errors) != 0 {
			t.Errorf("%s at %s: %q", tc.page, tc.fits.Name, rec.errors)
		}
		p.SetViewport(tc.overflow)
		p.CheckReflow(tc.page)
		if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "scrolls sideways") || !strings.Contains(rec.errors[0], tc.overflow.Name) {
			t.Errorf("%s at %s reported %q, want one sideways scroll", tc.page, tc.overflow.Name, rec.errors)
		}
		// Check runs both: a state too wide for either fails it.
		rec.errors = nil
		p.Check(tc.page, "")
		found := false
		for _, e := range rec.errors {
			found = found || (strings.Contains(e, "scrolls sideways") && strings.Contains(e, tc.overflow.Name))
		}
		if !found {
			t.Errorf("Check(%s) reported %q, want the sideways scroll at %s", tc.page, rec.errors, tc.overflow.Name)
		}
		if p.Viewport() != tc.overflow {
			t.Errorf("Check left the tab at %s, want %s", p.Viewport().Name, tc.overflow.Name)
		}
	}
}

func TestPageWeightCountsEveryByteOfTheLoad(t *testing.T) {
	srv := site(t)
	p := Shared(t).NewPage(t)
	l := p.Goto(srv.URL + "/weighed")
	// The HTML page, the incompressible script and the browser's own
	// favicon.ico request (a 404 here), each with its headers.
	if l.Requests != 3 {
		t.Errorf("requests = %d, want 3 (the page, its script, the favicon)", l.Requests)
	}
	if l.Bytes < blobSize || l.Bytes > blobSize+2_000 {
		t.Errorf("weight = %d bytes, want the %d-byte image plus the page and headers", l.Bytes, blobSize)
	}
	// A reload is a load of its own, counted again in full (the cache is off).
	again := p.Reload()
	if again.Bytes < blobSize || again.Requests < 2 {
		t.Errorf("reload = %s, want the whole page again", again)
	}
}

func TestPageWeightOverTheBudgetFails(t *testing.T) {
	srv := site(t)
	rec := &recorder{TB: t}
	p := Shared(t).NewPage(rec)
	l := p.Goto(srv.URL + "/heavy")
	if l.Bytes <= MaxPageBytes {
		t.Fatalf("heavy page weighs %d bytes, want over %d", l.Bytes, MaxPageBytes)
	}
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "over the 150 KB budget") {
		t.Errorf("a page over budget reported %q, want one error naming the budget", rec.errors)
	}
}

func TestFindsFieldsByLabelAndRole(t *testing.T) {
	srv := site(t)
	p := Shared(t).NewPage(t)
	p.Goto(srv.URL + "/good")
	if h := p.Find(Role("heading", "개인통관고유부호")); h.Text() != "개인통관고유부호" {
		t.Errorf("heading text = %q", h.Text())
	}
	p.Fill(Label("이름"), "홍길동")
	p.Fill(Label("주민등록번호"), "9001011234567") // named by aria-labelledby, not a <label>
	p.Select(Label("통신사"), "KT")
	agree := p.Find(Label("동의합니다"))
	if agree.Role != "checkbox" || agree.Checked != "false" {
		t.Errorf("consent box = %s checked %q", agree, agree.Checked)
	}
	agree.Click()
	if got := p.Find(Label("동의합니다")); got.Checked != "true" {
		t.Errorf("after a click the box is checked %q", got.Checked)
	}
	p.Click(Role("button", "보내기"))
	status := p.Find(Role("status", "").Partial()) // a live region's name is empty; find it by role
	waitText(t, status, "받음: 홍길동 / 9001011234567 / kt / true")
	if p.Has(Role("button", "보")) {
		t.Error("an exact lookup matched part of a name")
	}
	if !p.Has(Role("button", "보").Partial()) {
		t.Error("a partial lookup missed")
	}
	// A lookup that finds nothing says what the page offers.
	_, err := p.waitFor(Role("button", "없는 단추"), 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), `button "보내기"`) || !strings.Contains(err.Error(), `link "다음 쪽"`) {
		t.Errorf("a failed lookup said %v, want it to list the page's button and link", err)
	}
}

// randomScript is a JavaScript file of n bytes: a comment of random letters.
func randomScript(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	copy(b, "/* ")
	copy(b[n-3:], " */")
	return b
}

// waitText waits for the element's text, whitespace collapsed as a reader
// sees it.
func waitText(t *testing.T, e *Element, want string) {
	t.Helper()
	want = normalize(want)
	deadline := time.Now().Add(5 * time.Second)
	for normalize(e.Text()) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s says %q, want %q", e, e.Text(), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestKeyboardAlone(t *testing.T) {
	srv := site(t)
	p := Shared(t).NewPage(t)
	p.Goto(srv.URL + "/good")
	if f := p.Focused(); f != nil {
		t.Errorf("focus before any key = %s, want the page", f)
	}
	p.TabTo(Label("이름"), 3)
	p.Type("Hong Gildong")
	p.Press(Tab)
	if f := p.Focused(); f == nil || f.Name != "주민등록번호" {
		t.Fatalf("Tab from the name went to %v", f)
	}
	p.Type("900101")
	p.TabTo(Label("동의합니다"), 3)
	p.Press(Space)
	if f := p.Focused(); f.Checked != "true" {
		t.Errorf("Space left the consent box checked %q", f.Checked)
	}
	p.TabTo(Role("button", "보내기"), 2)
	p.Press(Enter)
	waitText(t, p.Find(Role("status", "").Partial()), "받음: Hong Gildong / 900101 /  / true")
	var rec recorder
	rec.TB = t
	rp := &Page{t: &rec, ctx: p.ctx, Timeout: p.Timeout}
	func() {
		var wg sync.WaitGroup
		wg.Go(func() { rp.TabTo(Role("button", "없음"), 3) })
		wg.Wait()
	}()
	if len(rec.fatals) != 1 || !strings.Contains(rec.fatals[0], "3 Tabs never reached") {
		t.Errorf("TabTo to nowhere reported %q", rec.fatals)
	}
}

func TestRecordsURLsAndStorage(t *testing.T) {
	srv := site(t)
	p := Shared(t).NewPage(t)
	p.Goto(srv.URL + "/good")
	if s := p.Storage(); len(s.Local) != 0 || len(s.Session) != 0 {
		t.Errorf("fresh browser context has storage: %s", s)
	}
	p.Click(Role("button", "보내기"))
	waitText(t, p.Find(Role("status", "").Partial()), "받음:  /  /  / false")
	s := p.Storage()
	if s.Local["lang"] != "ko" || s.Session["step"] != "2" {
		t.Errorf("storage = %s", s)
	}
	urls := p.URLs()
	for _, want := range []string{srv.URL + "/good", srv.URL + "/good.js", srv.URL + "/good?step=2"} {
		if !slices.Contains(urls, want) {
			t.Errorf("URLs %q lack %s", urls, want)
		}
	}
	if errs := p.Errors(); len(errs) != 0 {
		t.Errorf("page errors: %q", errs)
	}
	// Another Page is another browser context: nothing carries over.
	q := Shared(t).NewPage(t)
	q.Goto(srv.URL + "/good")
	if s := q.Storage(); len(s.Local) != 0 {
		t.Errorf("a new page sees another's localStorage: %s", s)
	}
}

func TestScreenshotsAtBothSizes(t *testing.T) {
	srv := site(t)
	p := Shared(t).NewPage(t)
	p.Lang = "ko"
	p.Goto(srv.URL + "/good")
	desk := p.Screenshot("start", "")
	p.SetViewport(Phone)
	phone := p.Screenshot("start", "")
	if !strings.HasSuffix(desk, "01-start-ko-desktop.png") || !strings.HasSuffix(phone, "02-start-ko-phone.png") {
		t.Errorf("shot names %s, %s", desk, phone)
	}
	for path, wantW := range map[string]uint32{desk: 1280, phone: 720} { // the phone at 2x
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 24 {
			t.Fatalf("%s is not a PNG", path)
		}
		if w := binary.BigEndian.Uint32(b[16:20]); w != wantW {
			t.Errorf("%s is %d px wide, want %d", path, w, wantW)
		}
	}
}

func TestMissingBrowserFailsUnderCIAndSkipsOtherwise(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Run("CI="+ci, func(t *testing.T) {
			t.Setenv("CI", ci)
			var rec recorder
			rec.TB = t
			var wg sync.WaitGroup
			wg.Go(func() { missing(&rec, fmt.Errorf("chromium is not installed at /nowhere")) })
			wg.Wait()
			if ci == "true" && (len(rec.fatals) != 1 || len(rec.skips) != 0) {
				t.Errorf("under CI: fatals %q skips %q, want one failure", rec.fatals, rec.skips)
			}
			if ci == "" && (len(rec.skips) != 1 || len(rec.fatals) != 0 || !strings.Contains(rec.skips[0], "SKIPPED")) {
				t.Errorf("outside CI: fatals %q skips %q, want one loud skip", rec.fatals, rec.skips)
			}
		})
	}
}

// recorder is a testing.TB that keeps failures instead of reporting them
// (Fatal and Skip end the goroutine, as they do in a test).
type recorder struct {
	testing.TB
	mu                    sync.Mutex
	errors, fatals, skips []string
}

func (r *recorder) add(to *[]string, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*to = append(*to, fmt.Sprintf(format, args...))
}

func (r *recorder) Helper()                         {}
func (r *recorder) Errorf(format string, a ...any)  { r.add(&r.errors, format, a...) }
func (r *recorder) Fatalf(format string, a ...any)  { r.add(&r.fatals, format, a...); runtime.Goexit() }
func (r *recorder) Fatal(a ...any)                  { r.add(&r.fatals, "%s", fmt.Sprint(a...)); runtime.Goexit() }
func (r *recorder) Skipf(format string, a ...any)   { r.add(&r.skips, format, a...); runtime.Goexit() }
func (r *recorder) Logf(format string, args ...any) { r.TB.Logf(format, args...) }
