// Package browser drives the Debian Chromium that infra/tools/install.sh
// installs, for the tests that check the web page as a person would use it:
// elements found by role and accessible name, the keyboard, the viewport of a
// desktop and of a phone, axe-core's audit, screenshots, the bytes each page
// load transfers, every URL the page visits and what it leaves in the
// browser's storage.
//
// One Chromium serves a whole test binary (starting it costs about a
// second); each Page is a browser context of its own (no cookies, storage or
// cache shared with another Page), so journeys stay apart.
package browser

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/pccc/pccc/shared/testkit"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// ToolsDirEnv names the folder install.sh installs the npm tools into (the
// Makefile sets it); without it the tests look in <repo>/.cache/tools.
const ToolsDirEnv = "PCCC_TOOLS_DIR"

// UpdateScreenshotsEnv, set to 1, makes Page.Screenshot copy the shots that
// name a file under docs/screenshots there.
const UpdateScreenshotsEnv = "PCCC_UPDATE_SCREENSHOTS"

// flags are the switches Chromium needs on this network: without them it
// tries to reach Google's hosts (component updates, sync, QUIC probes,
// background fetches), many at a time, and the network refuses them.
var flags = []chromedp.ExecAllocatorOption{
	chromedp.NoSandbox, // the tests run as root in CI
	chromedp.DisableGPU,
	chromedp.Flag("disable-quic", true),
	chromedp.Flag("disable-component-update", true),
	chromedp.Flag("disable-sync", true),
	chromedp.Flag("disable-background-networking", true),
	chromedp.Flag("no-first-run", true),
	chromedp.Flag("lang", "ko-KR"),
	chromedp.Flag("hide-scrollbars", true),
	chromedp.Flag("font-render-hinting", "none"),
}

// Browser is one running Chromium.
type Browser struct {
	ctx     context.Context // the browser's first tab; Pages are contexts beside it
	cancel  context.CancelFunc
	dataDir string
}

var shared struct {
	mu  sync.Mutex
	b   *Browser
	err error
}

// Shared returns the test binary's Chromium, started on first use. Without
// Chromium (or axe-core) the test fails when CI=true and is skipped with a
// loud message otherwise: a developer without the tools still runs the rest,
// CI never passes without the browser tests.
func Shared(t testing.TB) *Browser {
	t.Helper()
	if err := Available(); err != nil {
		missing(t, err)
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.b == nil && shared.err == nil {
		shared.b, shared.err = Start()
	}
	if shared.err != nil {
		t.Fatalf("start chromium: %v", shared.err)
	}
	return shared.b
}

// Main runs the tests of a package that uses Shared and stops its Chromium
// afterwards: func TestMain(m *testing.M) { os.Exit(browser.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.b != nil {
		shared.b.Close()
		shared.b = nil
	}
	return code
}

func missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("browser test cannot run under CI: %v (run `make tools`, which runs infra/tools/install.sh)", err)
	}
	t.Skipf("\n*** BROWSER TEST SKIPPED: %v.\n*** Run `make tools` (infra/tools/install.sh) to install Chromium, fonts-nanum and axe-core; under CI=true this is a failure. ***", err)
}

// Available says why the browser tests cannot run here, or nil.
func Available() error {
	if st, err := os.Stat(ChromiumPath); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("chromium is not installed at %s", ChromiumPath)
	}
	p, err := AxePath()
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err != nil {
		return fmt.Errorf("axe-core is not installed (%s missing)", p)
	}
	return nil
}

// Start launches a headless Chromium with a fresh, empty profile folder.
func Start() (*Browser, error) {
	dir, err := os.MkdirTemp("", "pccc-chromium-")
	if err != nil {
		return nil, err
	}
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	opts = append(opts, flags...)
	opts = append(opts, chromedp.ExecPath(ChromiumPath), chromedp.UserDataDir(dir))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser with no deadline
		cancelCtx()
		cancelAlloc()
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &Browser{
		ctx:     ctx,
		dataDir: dir,
		cancel: func() {
			cancelCtx()
			cancelAlloc()
		},
	}, nil
}

// Close stops Chromium and removes its profile folder.
func (b *Browser) Close() {
	b.cancel()
	_ = os.RemoveAll(b.dataDir)
}

// repoRoot is the folder holding go.mod, above the working directory.
func repoRoot() (string, error) { return testkit.RepoRoot() }

// AxePath is axe-core's axe.min.js as install.sh installs it from the
// lockfile.
func AxePath() (string, error) {
	dir := os.Getenv(ToolsDirEnv)
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			return "", fmt.Errorf("%s unset and %w", ToolsDirEnv, err)
		}
		dir = filepath.Join(root, ".cache", "tools")
	}
	return filepath.Join(dir, "node_modules", "axe-core", "axe.min.js"), nil
}
