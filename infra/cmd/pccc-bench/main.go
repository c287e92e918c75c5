// Command pccc-bench is make bench: it runs the whole system in this
// process on a local stack, measures the ceilings and the system's own
// paths side by side, and writes BENCHMARKS.md.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/pccc/pccc/infra/bench"
	"github.com/pccc/pccc/infra/localstack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pccc-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("pccc-bench", flag.ContinueOnError)
	stackName := fs.String("stack", string(localstack.DynamoDBLocal), "embedded or dynamodb-local")
	workers := fs.Int("workers", 32, "closed-loop workers per measurement")
	holders := fs.Int("holders", 256, "holders prepared with a live code")
	warm := fs.Duration("warm", 2*time.Second, "warm-up before each measurement")
	dur := fs.Duration("dur", 10*time.Second, "each measurement")
	out := fs.String("out", "BENCHMARKS.md", "report to write")
	template := fs.String("template", "template.yaml", "the SAM template")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	kind, err := localstack.ParseKind(*stackName)
	if err != nil {
		return err
	}
	started := time.Now()
	fmt.Fprintf(os.Stderr, "starting the system on %s…\n", kind)
	s, err := bench.Start(ctx, *template, kind, map[string]string{
		// Reissues are the surge; the yearly quota would stop a bench
		// holder after five.
		"REISSUES_PER_YEAR": "366",
	})
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(os.Stderr, "preparing %d holders…\n", *holders)
	toks, err := bench.Holders(ctx, s, "bench", *holders)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "measuring ceilings (%d workers, %v each)…\n", *workers, *dur)
	c, err := bench.MeasureCeilings(ctx, s, toks, *workers, *warm, *dur)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Benchmarks\n\nWritten by `make bench` (`go run ./infra/cmd/pccc-bench %s`) on %s.\n\n",
		strings.Join(args, " "), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s.\n- Stack: `%s` (the whole system in one process, functions invoked in-process with real API Gateway and SQS events).\n- Run took %.0f s.\n\n",
		bench.Machine(), kind, time.Since(started).Seconds())
	fmt.Fprintf(&b, "## Ceilings, side by side\n\nClosed loop: %d workers each send the next call when the last one ends, %v per measurement after %v of warm-up, all in this one run, so the ratios hold on a noisy machine where the absolute rates do not. The load generator shares the machine's cores with the system and the emulators.\n\n", *workers, *dur, *warm)
	bench.WriteCeilings(&b, c)
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		return err
	}
	os.Stdout.Write(b.Bytes())
	return nil
}
