package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/doccheck"
	"github.com/pccc/pccc/infra/keyadmin"
	"github.com/pccc/pccc/infra/localstack"
)

// documented are the files whose examples a newcomer follows, in the order
// they read them.
var documented = []string{"README.md", "docs/api.md"}

func documentedSteps(t *testing.T) []doccheck.Step {
	t.Helper()
	var steps []doccheck.Step
	for _, f := range documented {
		b, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := doccheck.Examples(f, string(b))
		if err != nil {
			t.Fatal(err)
		}
		steps = append(steps, s...)
	}
	return steps
}

// exampleEnv is a shell pointed at the running system: U its address,
// DYNAMODB its table's endpoint (make run's banner prints both), and the
// operator's pccc-keys run in process with the stack's region.
func exampleEnv(s *system, wait time.Duration) *doccheck.Env {
	return &doccheck.Env{
		Vars:  map[string]string{"U": s.url, "DYNAMODB": s.stack.DynamoDBEndpoint},
		Fixed: map[string]bool{"U": true, "DYNAMODB": true},
		HTTP:  &http.Client{Timeout: 30 * time.Second},
		Wait:  wait,
		Commands: map[string]func(context.Context, []string, map[string]string, io.Writer) error{
			"./infra/cmd/pccc-keys": func(ctx context.Context, args []string, env map[string]string, out io.Writer) error {
				base := map[string]string{}
				for _, kv := range s.stack.Env() {
					k, v, _ := strings.Cut(kv, "=")
					base[k] = v
				}
				for k, v := range env {
					base[k] = v
				}
				return keyadmin.Main(ctx, args, func(k string) string { return base[k] }, out, io.Discard)
			},
		},
	}
}

// Every request README.md and docs/api.md show is sent, in their order, to
// the system as make run starts it, and answers with the status and the
// fields shown; then one example changed to a wrong status is refused.
func TestDocumentedExamples(t *testing.T) {
	steps := documentedSteps(t)
	curls := 0
	for _, st := range steps {
		if strings.HasPrefix(st.Text, "curl") {
			curls++
		}
	}
	if curls < 20 {
		t.Fatalf("only %d requests in %v: the examples were not read", curls, documented)
	}
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, nil)
		env := exampleEnv(s, 20*time.Second)
		if err := env.Run(context.Background(), steps); err != nil {
			t.Fatalf("a documented example does not give what it shows:\n%v", err)
		}
		t.Logf("%d steps, %d requests, as documented", len(steps), curls)

		// The same first request with its status changed fails, naming it.
		for i, st := range steps {
			if !strings.HasPrefix(st.Text, "curl") {
				continue
			}
			b, _ := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(st.File)))
			lines := strings.Split(string(b), "\n")
			var block []string
			for _, l := range lines[st.Line-1:] {
				block = append(block, l)
				if strings.HasPrefix(strings.TrimSpace(l), "# ") || strings.Contains(l, "  # ") {
					break
				}
			}
			text := strings.Join(block, "\n")
			changed := strings.Replace(text, "# 200", "# 201", 1)
			if changed == text {
				continue
			}
			wrong, err := doccheck.Examples(st.File, "```sh\n"+changed+"\n```\n")
			if err != nil {
				t.Fatal(err)
			}
			err = exampleEnv(s, time.Second).Run(context.Background(), wrong)
			if err == nil || !strings.Contains(err.Error(), "the example shows 201") {
				t.Errorf("step %d (%s) with 201 for 200: %v", i, st.Text, err)
			}
			return
		}
		t.Error("no example answers 200 to change")
	})
}
