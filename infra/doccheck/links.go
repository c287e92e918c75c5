// Package doccheck holds the repository's Markdown to what it claims:
// every relative link and #anchor resolves (Links), and the requests the
// documentation shows, with their answers, can be read and run against the
// local system (Examples, Run).
package doccheck

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// skipDirs are folders whose Markdown is not the project's: installed
// tools, build output, git's own.
var skipDirs = map[string]bool{".git": true, ".cache": true, "node_modules": true, "build": true, ".aws-sam": true, "testdata": true}

// MarkdownFiles lists the .md files under root, slash-separated and
// relative to it, sorted.
func MarkdownFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && skipDirs[d.Name()] {
			return fs.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(strings.ToLower(d.Name()), ".md") {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// Problem is one link that does not resolve.
type Problem struct {
	File   string // the Markdown file, relative to the root
	Line   int
	Target string
	Why    string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Target, p.Why)
}

var (
	// [text](target "title") and ![alt](target); the target ends at a
	// space or the closing parenthesis (no parentheses inside targets).
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// [label]: target
	refLink  = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$`)
	htmlLink = regexp.MustCompile(`(?i)<(?:a|img)\b[^>]*?\s(?:href|src)\s*=\s*"([^"]*)"`)
	codeSpan = regexp.MustCompile("`+[^`]*`+")
	scheme   = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
)

// Links checks every Markdown file under root: each relative link names a
// file or folder inside root, and each #anchor (in the same file or
// another Markdown file) is one of that file's headings, as GitHub makes
// anchors of them. Links with a scheme (https:, mailto:) are not followed.
// Links in code blocks and code spans are not links.
func Links(root string) ([]Problem, error) {
	files, err := MarkdownFiles(root)
	if err != nil {
		return nil, err
	}
	anchors := map[string]map[string]bool{}
	anchorsOf := func(rel string) (map[string]bool, error) {
		if a, ok := anchors[rel]; ok {
			return a, nil
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		a := Anchors(string(b))
		anchors[rel] = a
		return a, nil
	}
	var problems []Problem
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		for _, l := range linksIn(string(b)) {
			bad := func(why string) {
				problems = append(problems, Problem{File: f, Line: l.line, Target: l.target, Why: why})
			}
			t := l.target
			if scheme.MatchString(t) || strings.HasPrefix(t, "//") {
				continue
			}
			file, frag, _ := strings.Cut(t, "#")
			file = strings.SplitN(file, "?", 2)[0]
			target := f
			if file != "" {
				if strings.HasPrefix(file, "/") {
					target = path.Clean(strings.TrimPrefix(file, "/"))
				} else {
					target = path.Join(path.Dir(f), file)
				}
				if target == ".." || strings.HasPrefix(target, "../") {
					bad("points outside the repository")
					continue
				}
				if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(target))); err != nil {
					bad("no such file")
					continue
				}
			}
			if frag == "" {
				continue
			}
			if !strings.HasSuffix(strings.ToLower(target), ".md") {
				continue // an anchor into code or an image: GitHub's line anchors, not checked
			}
			a, err := anchorsOf(target)
			if err != nil {
				return nil, err
			}
			if !a[strings.ToLower(frag)] {
				bad("no heading makes the anchor #" + frag)
			}
		}
	}
	return problems, nil
}

type link struct {
	line   int
	target string
}

// linksIn finds the links of a Markdown text outside code.
func linksIn(md string) []link {
	var out []link
	inFence, fence := false, ""
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if f, ok := fenceOf(line); ok {
			switch {
			case !inFence:
				inFence, fence = true, f
			case strings.HasPrefix(strings.TrimSpace(line), fence) && strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(line), fence[:1])) == "":
				inFence = false
			}
			continue
		}
		if inFence {
			continue
		}
		text := codeSpan.ReplaceAllString(line, "")
		for _, m := range inlineLink.FindAllStringSubmatch(text, -1) {
			out = append(out, link{n, m[1]})
		}
		if m := refLink.FindStringSubmatch(text); m != nil {
			out = append(out, link{n, m[1]})
		}
		for _, m := range htmlLink.FindAllStringSubmatch(text, -1) {
			out = append(out, link{n, m[1]})
		}
	}
	return out
}

// fenceOf says whether a line opens or closes a fenced code block, and
// with which fence (``` or ~~~, three or more).
func fenceOf(line string) (string, bool) {
	t := strings.TrimLeft(line, " ")
	if len(line)-len(t) > 3 {
		return "", false
	}
	for _, c := range []string{"`", "~"} {
		if strings.HasPrefix(t, c+c+c) {
			n := len(t) - len(strings.TrimLeft(t, c))
			return strings.Repeat(c, n), true
		}
	}
	return "", false
}

var (
	atxHeading = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$`)
	mdLinkText = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTag    = regexp.MustCompile(`<[^>]+>`)
	htmlAnchor = regexp.MustCompile(`(?i)<a\s+(?:name|id)\s*=\s*"([^"]+)"`)
)

// Anchors are the anchors GitHub gives a Markdown file's headings: the
// heading's text (link text kept, code kept without its backticks, HTML
// tags and emphasis marks dropped), lowercased, every character that is
// not a letter, digit, space, hyphen or underscore removed, spaces made
// hyphens; a repeated anchor gets -1, -2, ... Headings in code blocks are
// not headings. <a name="..."> and id="..." anchors count too.
func Anchors(md string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	inFence, fence := false, ""
	for _, line := range strings.Split(md, "\n") {
		if f, ok := fenceOf(line); ok {
			switch {
			case !inFence:
				inFence, fence = true, f
			case strings.HasPrefix(strings.TrimSpace(line), fence):
				inFence = false
			}
			continue
		}
		if inFence {
			continue
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			out[strings.ToLower(m[1])] = true
		}
		m := atxHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		slug := Slug(m[2])
		if n, dup := seen[slug]; dup {
			seen[slug] = n + 1
			out[slug+"-"+strconv.Itoa(n+1)] = true
			continue
		}
		seen[slug] = 0
		out[slug] = true
	}
	return out
}

// Slug is GitHub's anchor for a heading's text.
func Slug(heading string) string {
	t := mdLinkText.ReplaceAllString(heading, "$1")
	t = htmlTag.ReplaceAllString(t, "")
	t = strings.ToLower(t)
	var b strings.Builder
	for _, r := range t {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
