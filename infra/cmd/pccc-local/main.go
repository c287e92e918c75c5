// Command pccc-local runs the whole system on this machine (`make run`): a
// local AWS stack (embedded emulators or DynamoDB Local + fauxqs), and the
// local runner serving template.yaml's API, queues and schedules on
// 127.0.0.1:${PORT:-8080}. Function logs go to stderr; Ctrl-C stops it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "pccc-local: %v\n", err)
		os.Exit(1)
	}
}

// run starts the stack and the runner, prints where to reach them, and
// stops both when ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pccc-local", flag.ContinueOnError)
	fs.SetOutput(stderr)
	port := getenv("PORT")
	if port == "" {
		port = "8080"
	}
	stackDefault := getenv("STACK")
	if stackDefault == "" {
		stackDefault = string(localstack.Embedded)
	}
	addr := fs.String("addr", "127.0.0.1:"+port, "listen address (default from PORT)")
	stackName := fs.String("stack", stackDefault, "local AWS stack: embedded or dynamodb-local (default from STACK)")
	template := fs.String("template", "template.yaml", "the SAM template to run")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	kind, err := localstack.ParseKind(*stackName)
	if err != nil {
		return err
	}

	stack, err := localstack.Start(ctx, kind, localstack.Options{ToolsDir: getenv(localstack.ToolsDirEnv), Log: stderr})
	if err != nil {
		return err
	}
	runner, err := localrun.New(ctx, localrun.Options{
		TemplatePath: *template,
		Addr:         *addr,
		Stack:        stack,
		FunctionLog:  stderr,
		Log:          stderr,
		Getenv:       getenv,
	})
	if err != nil {
		return errors.Join(err, stack.Close())
	}
	printBanner(stdout, runner, stack)

	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping...")
	// A fresh context: ctx is already done, and in-flight requests and
	// batches deserve a few seconds to finish.
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(runner.Close(shutdown), stack.Close())
}

func printBanner(w io.Writer, r *localrun.Runner, s *localstack.Stack) {
	url := r.URL()
	fmt.Fprintf(w, "pccc is running at %s (stack: %s)\n\n", url, s.Kind)
	fmt.Fprintf(w, "  web page       %s/\n  API reference  %s/docs/api\n  SMS outbox     %s/_local/sms?phone=01000000001\n\n", url, url, url)
	fmt.Fprintf(w, "  DynamoDB  %s\n  SQS       %s\n  S3        %s\n\n", s.DynamoDBEndpoint, s.SQSEndpoint, s.S3Endpoint)
	fmt.Fprintf(w, "  routes:")
	for _, rt := range r.Template().Routes() {
		fmt.Fprintf(w, " %s", rt.RouteKey())
	}
	fmt.Fprintf(w, "\n  local:   GET /healthz, GET /_local/sms?phone=..., POST /_local/schedules/{LogicalId}\n\n")

	korean, foreigner := testIdentities()
	fmt.Fprintln(w, "Synthetic test identities (made up; the bureau simulator knows them):")
	for _, p := range []struct {
		label string
		r     sim.Resident
	}{{"Korean   ", korean}, {"foreigner", foreigner}} {
		if p.r.Name != "" {
			fmt.Fprintf(w, "  %s  %-16s %s  (%s %s)\n", p.label, p.r.Name, p.r.RRN, p.r.Carrier, p.r.Phone)
		}
	}
	fmt.Fprintf(w, "\nTry:\n  curl -s -X POST %s/v1/verifications -H 'Content-Type: application/json' \\\n    -d '{\"name\": %q, \"rrn\": %q}'\n\n", url, korean.Name, korean.RRN)
	fmt.Fprintln(w, "Function logs follow on stderr. Ctrl-C stops.")
}

// testIdentities picks a built-in Korean and a built-in foreigner: the
// seventh digit of the number is 1-4 for citizens, 5-8 for foreigners.
func testIdentities() (korean, foreigner sim.Resident) {
	for _, r := range sim.BuiltIn() {
		digits := strings.ReplaceAll(r.RRN, "-", "")
		if len(digits) != 13 {
			continue
		}
		switch g := digits[6]; {
		case g >= '1' && g <= '4' && korean.Name == "":
			korean = r
		case g >= '5' && g <= '8' && foreigner.Name == "":
			foreigner = r
		}
	}
	return korean, foreigner
}
