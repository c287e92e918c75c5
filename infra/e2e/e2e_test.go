package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/testkit"
)

// system is one running copy of the whole system.
type system struct {
	url   string
	logs  *testkit.Buffer
	stack *localstack.Stack
	run   *localrun.Runner
}

// start runs the system on the given stack with extra environment.
func start(t *testing.T, kind localstack.Kind, env map[string]string) *system {
	t.Helper()
	return startWith(t, kind, env, nil)
}

// startWith is start with the function registry replaced (nil: the real
// one), for tests that inject faults into a function.
func startWith(t *testing.T, kind localstack.Kind, env map[string]string, registry map[string]platform.Builder) *system {
	t.Helper()
	return startCustom(t, kind, env, func(_ *localstack.Stack, o *localrun.Options) { o.Registry = registry })
}

// startCustom is start with the runner's options adjusted once the stack
// runs (fault proxies in front of it, say).
func startCustom(t *testing.T, kind localstack.Kind, env map[string]string, adjust func(*localstack.Stack, *localrun.Options)) *system {
	t.Helper()
	ctx := context.Background()
	stack, err := localstack.Start(ctx, kind, localstack.Options{})
	if err != nil {
		t.Fatalf("start %s stack: %v", kind, err)
	}
	t.Cleanup(func() { _ = stack.Close() })
	logs := &testkit.Buffer{}
	opts := localrun.Options{
		TemplatePath: filepath.Join(repoRoot(t), "template.yaml"),
		Addr:         "127.0.0.1:0",
		Stack:        stack,
		FunctionLog:  logs,
		Log:          logs,
		KeyRings:     testRings,
		Getenv: func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return ""
		},
	}
	if adjust != nil {
		adjust(stack, &opts)
	}
	run, err := localrun.New(ctx, opts)
	if err != nil {
		t.Fatalf("start runner: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = run.Close(cctx)
	})
	return &system{url: run.URL(), logs: logs, stack: stack, run: run}
}

func repoRoot(t *testing.T) string { return testkit.Root(t) }

// reply is an HTTP answer with its body decoded when it is JSON.
type reply struct {
	status  int
	header  http.Header
	raw     string
	body    map[string]any
	errCode string
	fields  map[string]any
}

func (s *system) do(t *testing.T, method, path, contentType, body string) reply {
	t.Helper()
	h := map[string]string{}
	if contentType != "" {
		h["Content-Type"] = contentType
	}
	return s.send(t, method, path, h, body)
}

// send makes one request with the given headers and decodes the answer.
func (s *system) send(t *testing.T, method, path string, headers map[string]string, body string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	if e, ok := r.body["error"].(map[string]any); ok {
		r.errCode, _ = e["code"].(string)
		r.fields, _ = e["fields"].(map[string]any)
	}
	return r
}

func (s *system) postJSON(t *testing.T, path string, v any) reply {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, http.MethodPost, path, "application/json", string(b))
}

// eachStack runs fn once per stack kind PCCC_TEST_STACKS names.
func eachStack(t *testing.T, fn func(t *testing.T, kind localstack.Kind)) {
	kinds, err := localstack.TestKinds()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) { fn(t, k) })
	}
}
