package localrun

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/localstack"
)

// Stacks are shared by the tests of this package, one per kind, because
// DynamoDB Local takes seconds to start; each runner gets its own name
// prefix so they do not see each other's tables and queues.
var stacks struct {
	mu   sync.Mutex
	byID map[localstack.Kind]*localstack.Stack
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, s := range stacks.byID {
		_ = s.Close()
	}
	os.Exit(code)
}

func stackFor(t *testing.T, kind localstack.Kind) *localstack.Stack {
	t.Helper()
	stacks.mu.Lock()
	defer stacks.mu.Unlock()
	if s, ok := stacks.byID[kind]; ok {
		return s
	}
	s, err := localstack.Start(context.Background(), kind, localstack.Options{})
	if err != nil {
		t.Fatalf("start %s stack: %v", kind, err)
	}
	if stacks.byID == nil {
		stacks.byID = map[localstack.Kind]*localstack.Stack{}
	}
	stacks.byID[kind] = s
	return s
}

// eachStack runs fn once per kind PCCC_TEST_STACKS names (default: the
// embedded stack).
func eachStack(t *testing.T, fn func(t *testing.T, s *localstack.Stack)) {
	kinds, err := localstack.TestKinds()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		t.Run(string(k), func(t *testing.T) { fn(t, stackFor(t, k)) })
	}
}

// uniquePrefix keeps runners on a shared stack apart (lower case: bucket
// names).
func uniquePrefix(t *testing.T) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b) + "-"
}

// startRunner starts a runner and closes it when the test ends.
func startRunner(t *testing.T, o Options) *Runner {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.NamePrefix == "" {
		o.NamePrefix = uniquePrefix(t)
	}
	r, err := New(context.Background(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mapEnv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprintf("must: %v", err))
	}
	return v
}
