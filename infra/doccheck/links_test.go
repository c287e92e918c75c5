package doccheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pccc/pccc/shared/testkit"
)

func repoRoot(t *testing.T) string { return testkit.Root(t) }

// Every relative link and anchor in the repository's Markdown resolves,
// and none of it points outside the repository.
func TestRepositoryLinks(t *testing.T) {
	root := repoRoot(t)
	files, err := MarkdownFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found only %v", files)
	}
	problems, err := Links(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		// The team's notes sit in a folder beside the repository; a
		// person who clones it does not have them.
		if beside := "../" + "shared"; strings.Contains(string(b), beside) {
			t.Errorf("%s mentions %s, which is outside the repository", f, beside)
		}
	}
}

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The checker finds each kind of broken link, and takes the good ones.
func TestLinksFindsBrokenOnes(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, map[string]string{
		"README.md": "# Top\n\n## The `make run` command\n\n## Same\n\n## Same\n\n" +
			"[ok](docs/a.md) [ok](docs/a.md#rules-and-numbers) [ok](#the-make-run-command) [ok](#same-1)\n" +
			"[ok](docs/) ![ok](img.png) [ok](https://example.com/x#y) [ok](/docs/a.md#한국어-제목)\n" +
			"`[not a link](nowhere.md)`\n\n```sh\n[not a link](nowhere.md)\n```\n\n" +
			"[gone](docs/missing.md)\n[bad anchor](docs/a.md#no-such-heading)\n[bad here](#same-2)\n" +
			"[outside](../beside/API.md)\n[ref]: docs/also-missing.md\n<a href=\"docs/none.md\">html</a>\n",
		"docs/a.md": "# Rules and numbers\n\n## 한국어 제목\n\n[up](../README.md#top)\n",
		"img.png":   "png",
	})
	problems, err := Links(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range problems {
		got[p.Target] = p.Why
	}
	want := []string{"docs/missing.md", "docs/a.md#no-such-heading", "#same-2", "../beside/API.md", "docs/also-missing.md", "docs/none.md"}
	for _, w := range want {
		if got[w] == "" {
			t.Errorf("%s not reported (got %v)", w, problems)
		}
	}
	if len(problems) != len(want) {
		t.Errorf("%d problems, want %d: %v", len(problems), len(want), problems)
	}
}

func TestSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Two commands":                        "two-commands",
		"The `make run` command":              "the-make-run-command",
		"Limits: who pays for a failure":      "limits-who-pays-for-a-failure",
		"API keys, and [roles](x.md)":         "api-keys-and-roles",
		"Idempotency & retries (Retry-After)": "idempotency--retries-retry-after",
		"한국어 제목":                              "한국어-제목",
		"snake_case stays":                    "snake_case-stays",
	} {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}
