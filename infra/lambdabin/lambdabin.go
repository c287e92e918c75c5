// Package lambdabin builds each function the way Lambda gets it (a static
// linux bootstrap, -tags lambda.norpc, as the Makefile's LAMBDA_FLAGS) and
// runs it the way Lambda runs it: a process of its own with an
// environment and nothing else, asking a Runtime API (runtimeapi.go) for
// its events. The built-binary test (infra/e2e) and make bench's cold
// start figures run the real bootstraps through it.
package lambdabin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
)

// Flags are the Makefile's LAMBDA_FLAGS: no RPC mode (provided.al2023 has
// no use for it), no paths or symbols in the binary.
var Flags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// Functions lists the folders under root/functions with a main.go: every
// function the template can name.
func Functions(root string) ([]string, error) {
	mains, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range mains {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	sort.Strings(names)
	return names, nil
}

// Build builds the named functions of the module at root into dir, one
// bootstrap per function at dir/<name>/bootstrap, for linux on the host's
// architecture (Lambda's own is arm64; the Makefile's build target makes
// that), with CGO off so the binary is static. One go build builds them
// all, in parallel as go does, and the build cache makes a second run
// quick. It returns the bootstraps' paths by name.
func Build(ctx context.Context, root, dir string, names []string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, errors.New("lambdabin: no functions to build")
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	args := append([]string{"build"}, Flags...)
	args = append(args, "-o", out+string(filepath.Separator))
	for _, n := range names {
		args = append(args, "./functions/"+n)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build: %w\n%s", err, stderr.String())
	}
	paths := map[string]string{}
	for _, n := range names {
		p := filepath.Join(dir, n, "bootstrap")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(out, n), p); err != nil {
			return nil, fmt.Errorf("bootstrap of %s: %w", n, err)
		}
		paths[n] = p
	}
	return paths, nil
}

// Process is one running bootstrap and the Runtime API it talks to.
type Process struct {
	API     *RuntimeAPI
	cmd     *exec.Cmd
	Started time.Time

	stderr  lockedBuffer
	exited  chan struct{}
	waitErr error
}

// Start runs the bootstrap at path with exactly env (nothing inherited,
// as in Lambda) plus AWS_LAMBDA_RUNTIME_API; its stdout (the function's
// JSON log) goes to logs when set, which must be safe for concurrent
// writes when shared. The caller must Close it.
func Start(path string, env []string, logs io.Writer) (*Process, error) {
	api, err := NewRuntimeAPI()
	if err != nil {
		return nil, err
	}
	p := &Process{API: api, exited: make(chan struct{})}
	p.cmd = exec.Command(path)
	p.cmd.Dir = filepath.Dir(path)
	p.cmd.Env = append(append([]string{}, env...), "AWS_LAMBDA_RUNTIME_API="+api.Addr())
	p.cmd.Stderr = &p.stderr
	if logs != nil {
		p.cmd.Stdout = logs
	}
	p.Started = time.Now()
	if err := p.cmd.Start(); err != nil {
		_ = api.Close()
		return nil, err
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
		// Nothing will answer an event now: let waiting Invokes go.
		_ = api.Close()
	}()
	return p, nil
}

// WaitReady waits for the cold start to end: the first GET /next. A
// reported init error, or the process ending first, is an error.
func (p *Process) WaitReady(ctx context.Context) (time.Duration, error) {
	select {
	case <-p.API.Ready():
		return p.API.ReadyAt().Sub(p.Started), nil
	case <-p.API.InitFailed():
		return 0, p.API.InitError()
	case <-p.exited:
		select {
		case <-p.API.Ready():
			return p.API.ReadyAt().Sub(p.Started), nil
		default:
		}
		return 0, fmt.Errorf("exited before asking for an event (%v): %s", p.waitErr, p.Stderr())
	case <-ctx.Done():
		return 0, fmt.Errorf("no GET /next: %w (stderr: %s)", ctx.Err(), p.Stderr())
	}
}

// Exited is closed when the process has ended.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// ExitErr is how the process ended (after Exited).
func (p *Process) ExitErr() error { return p.waitErr }

// Stderr is what the process wrote to stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// Close kills the process if it still runs and stops its Runtime API.
func (p *Process) Close() error {
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	return p.API.Close()
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}

// BaseEnv is what Lambda sets in every execution environment beside the
// function's own variables, the credentials and AWS_LAMBDA_RUNTIME_API
// (Lambda's "defined runtime environment variables"): the task root, the
// handler, the clock in UTC.
func BaseEnv(taskRoot string) []string {
	return []string{
		"LAMBDA_TASK_ROOT=" + taskRoot,
		"_HANDLER=bootstrap",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
	}
}

// EnvList turns an environment map into KEY=value entries, sorted.
func EnvList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// PeakRSS is the most memory the process has had resident (VmHWM), read
// from /proc while it runs; 0 where there is no /proc.
func (p *Process) PeakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
