// Package apidoc renders the API reference page, /docs/api, from the
// OpenAPI document (shared/openapi/openapi.json) with the pinned Redocly CLI
// (`build-docs`, infra/tools/package-lock.json), and makes the page fit the
// site: Redoc's page carries its scripts inline, which the site's
// Content-Security-Policy refuses, so each inline script is moved into a
// file of its own beside the page (api-1.js, ...), loaded from the same
// origin. The page is then checked to load nothing from another origin: no
// script, style sheet, font, image or frame outside the site, no font
// service. The result goes into build/site/docs/, which the site's upload
// (infra/site) puts into the bucket beside web/.
package apidoc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Page is the page's name under docs/: the distribution's DocsRoutesFunction
// (and the local runner's twin) serves /docs/api from docs/api.html.
const Page = "api.html"

// Tool is where the pinned CLI lives.
type Tool struct {
	Node string // the pinned Node 22
	CLI  string // @redocly/cli's bin/cli.js
}

// Render runs build-docs on spec and writes the page and its scripts into
// outDir (created; files of an earlier render removed). It returns the
// names it wrote.
func Render(ctx context.Context, tool Tool, spec, outDir string) ([]string, error) {
	tmp, err := os.MkdirTemp("", "pccc-apidoc-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	raw := filepath.Join(tmp, "redoc.html")
	cmd := exec.CommandContext(ctx, tool.Node, tool.CLI, "build-docs", spec,
		"--inlineBundle", "--output", raw, "--lint-config", "off",
		"--openapi.disableTelemetry=true")
	// No usage data sent, no update check: the build needs no network.
	cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("redocly build-docs: %w\n%s", err, out.String())
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		return nil, err
	}
	page, scripts, err := Split(b, "api")
	if err != nil {
		return nil, err
	}
	if err := Check(page); err != nil {
		return nil, err
	}
	for i := range scripts {
		scripts[i].Body = Unlink(scripts[i].Body)
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	old, _ := filepath.Glob(filepath.Join(outDir, "api*"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	names := []string{Page}
	if err := os.WriteFile(filepath.Join(outDir, Page), page, 0o644); err != nil {
		return nil, err
	}
	for _, s := range scripts {
		if err := os.WriteFile(filepath.Join(outDir, s.Name), s.Body, 0o644); err != nil {
			return nil, err
		}
		names = append(names, s.Name)
	}
	return names, nil
}

// fetchedAtRunTime are the addresses on another origin that Redoc's script
// loads by itself once the page runs: the "API docs by Redocly" logo. Each
// becomes an empty data: image, which fails to load, and Redoc then leaves
// the logo out (its onError). The text link to redocly.com stays.
var fetchedAtRunTime = []string{
	"https://cdn.redoc.ly/redoc/logo-mini-full.svg",
	"https://cdn.redoc.ly/redoc/logo-mini.svg",
}

// Unlink replaces in a script the addresses it would fetch from another
// origin (fetchedAtRunTime).
func Unlink(script []byte) []byte {
	for _, u := range fetchedAtRunTime {
		script = bytes.ReplaceAll(script, []byte(u), []byte("data:,"))
	}
	return script
}

// Script is an inline script moved out of the page.
type Script struct {
	Name string // "api-1.js"
	Body []byte
}

var (
	scriptOpen = regexp.MustCompile(`(?i)<script\b([^>]*)>`)
	scriptEnd  = regexp.MustCompile(`(?i)</script\s*>`)
	srcAttr    = regexp.MustCompile(`(?i)\ssrc\s*=`)
)

// Split moves every inline <script> of page into a file named
// <prefix>-<n>.js and leaves <script src="<prefix>-<n>.js"> with the same
// attributes (a module stays a module, deferred as before; a classic
// script still runs where it stood). A script element ends at the first
// </script>, as the HTML parser reads it; the bundle writes its own as
// <\/script>.
func Split(page []byte, prefix string) ([]byte, []Script, error) {
	var out bytes.Buffer
	var scripts []Script
	rest := page
	for {
		loc := scriptOpen.FindSubmatchIndex(rest)
		if loc == nil {
			out.Write(rest)
			break
		}
		attrs := string(rest[loc[2]:loc[3]])
		out.Write(rest[:loc[0]])
		body := rest[loc[1]:]
		end := scriptEnd.FindIndex(body)
		if end == nil {
			return nil, nil, errors.New("a <script> without its </script>")
		}
		content := body[:end[0]]
		rest = body[end[1]:]
		if srcAttr.MatchString(attrs) {
			if len(bytes.TrimSpace(content)) != 0 {
				return nil, nil, errors.New("a <script src> with content")
			}
			out.WriteString("<script" + attrs + "></script>")
			continue
		}
		if len(bytes.TrimSpace(content)) == 0 {
			continue
		}
		name := prefix + "-" + strconv.Itoa(len(scripts)+1) + ".js"
		scripts = append(scripts, Script{Name: name, Body: append([]byte(nil), content...)})
		out.WriteString(`<script` + attrs + ` src="` + name + `"></script>`)
	}
	return out.Bytes(), scripts, nil
}

var (
	// tags that make the browser fetch what an attribute names.
	fetchAttr = regexp.MustCompile(`(?is)<(script|link|img|iframe|source|video|audio|embed|object|image|use|input)\b[^>]*?\s(src|href|srcset|data|poster|xlink:href)\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)`)
	cssURL    = regexp.MustCompile(`(?i)(url\(\s*['"]?|@import\s+['"])\s*([a-z][a-z0-9+.-]*:|//)`)
	styleTag  = regexp.MustCompile(`(?is)<style\b[^>]*>(.*?)</style\s*>`)
	styleAttr = regexp.MustCompile(`(?is)\sstyle\s*=\s*("[^"]*"|'[^']*')`)
)

// Check refuses a page that would load anything from another origin: a
// script, style sheet, image, frame or other fetched resource with an
// absolute or scheme-relative address, or a style (element or attribute)
// whose url() or @import names one; data: is allowed in styles (Redoc's
// inline icons and font). Inline scripts must already be gone (Split).
// Links a reader may follow (<a href>) are not fetches and are allowed.
func Check(page []byte) error {
	var problems []string
	for _, m := range fetchAttr.FindAllSubmatch(page, -1) {
		v := strings.Trim(string(m[3]), `"'`)
		if external(v) {
			problems = append(problems, fmt.Sprintf("<%s %s=%q>", m[1], m[2], v))
		}
	}
	for _, m := range scriptOpen.FindAllSubmatchIndex(page, -1) {
		after := page[m[1]:]
		if end := scriptEnd.FindIndex(after); end != nil && len(bytes.TrimSpace(after[:end[0]])) > 0 {
			problems = append(problems, "an inline <script>")
		}
	}
	var css [][]byte
	for _, m := range styleTag.FindAllSubmatch(page, -1) {
		css = append(css, m[1])
	}
	for _, m := range styleAttr.FindAllSubmatch(page, -1) {
		css = append(css, m[1])
	}
	for _, c := range css {
		for _, m := range cssURL.FindAllSubmatch(c, -1) {
			if scheme := strings.ToLower(string(m[2])); scheme != "data:" {
				problems = append(problems, fmt.Sprintf("a style loading %s%s...", m[1], m[2]))
			}
		}
	}
	if bytes.Contains(bytes.ToLower(page), []byte("fonts.googleapis.com")) {
		problems = append(problems, "a Google Fonts reference")
	}
	if len(problems) > 0 {
		return fmt.Errorf("the API reference page would load from another origin: %s", strings.Join(problems, "; "))
	}
	return nil
}

// external says whether an address leaves the page's origin: a scheme
// other than data: (or blob:), or a scheme-relative //host.
func external(v string) bool {
	v = strings.TrimSpace(strings.ToLower(v))
	if strings.HasPrefix(v, "//") {
		return true
	}
	if i := strings.IndexByte(v, ':'); i > 0 && !strings.ContainsAny(v[:i], "/?#") {
		switch v[:i] {
		case "data", "blob":
			return false
		}
		return true
	}
	return false
}
