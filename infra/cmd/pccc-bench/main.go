// Command pccc-bench is make bench: it runs the whole system in this
// process on a local stack, measures the ceilings and the system's own
// paths side by side, and writes BENCHMARKS.md.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/pccc/pccc/infra/bench"
	"github.com/pccc/pccc/infra/loadgen"
	"github.com/pccc/pccc/infra/localstack"
)

func main() {
	// The bench starts itself again as its worker process.
	bench.ServeWorkersIfAsked()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pccc-bench:", err)
		os.Exit(1)
	}
}

// workerBatches says how the worker's concurrency was set.
func workerBatches() string {
	if bench.WorkerBatches <= 0 {
		return "Worker batches as template.yaml allows (`MaximumConcurrency: 10`)."
	}
	return fmt.Sprintf("Batches of each queue's function capped at %d at a time (`-worker-batches`; template.yaml allows the worker 10): DynamoDB Local writes through one SQLite database, one write at a time, so more concurrent transactions add little to the drain and the accept path's calls queue behind them. The worker rate below is measured with this cap, and the drain targets are held against it. The run under faults keeps the template's 10.", bench.WorkerBatches)
}

// gcPercent is this process's GOGC: the functions', from template.yaml
// (0: Go's default).
var gcPercent int

// gcSetting says how this process's collector was set.
func gcSetting() string {
	if gcPercent == 0 {
		return "This process's collector at Go's default (GOGC 100)."
	}
	return fmt.Sprintf("This process's collector at GOGC %d, the functions' setting in template.yaml.", gcPercent)
}

// workerPlacement says where the queue functions ran.
func workerPlacement() string {
	if !bench.WorkerProcess {
		return "The API's and the queues' functions in one process with the load generator (`-worker-process` runs the queues' in a process of their own; on shared cores that made things worse, see the README)."
	}
	nice := "at the same priority"
	if bench.WorkerNice > 0 {
		nice = fmt.Sprintf("at niceness %d", bench.WorkerNice)
	}
	return fmt.Sprintf("The API's functions in one process with the load generator; the queues' functions in a worker process of their own %s (`-worker-process`, `-worker-nice`), as AWS runs them on Lambda instances of their own: the cores are shared, but the API's process never waits on the workers' heap, garbage collection or goroutines. The run under faults keeps them in the API's process, where it kills their batches.", nice)
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
	chartPath := fs.String("chart", "BENCHMARKS.png", "the spike run's chart (PNG)")
	peakDur := fs.Duration("peak", 20*time.Second, "how long the spike's peak lasts")
	repeats := fs.Int("spike-repeats", 4, "runs of the spike profile after the first, each with its own keys, so its p99 is judged over 1+N runs")
	faultHolders := fs.Int("fault-holders", 1500, "holders in the run under faults (7 commands each); 0 skips it")
	campaignCodes := fs.Int("campaign-codes", 20000, "codes of the reissue campaign run behind a second spike; 0 skips it")
	campaignRate := fs.Int("campaign-rate", 50, "that campaign's rate cap (items a second; CAMPAIGN_MAX_RATE is set to it; 50 is the template's CampaignMaxRate)")
	campaignFaults := fs.Int("campaign-fault-holders", 2000, "holders of the campaign run under faults; 0 skips it")
	smsOpts := bench.DefaultSMSSpike()
	fs.Float64Var(&smsOpts.Rate, "sms-rate", smsOpts.Rate, "the SMS spike's provider rate (SMS/s); starts come at five times it")
	fs.DurationVar(&smsOpts.Duration, "sms-spike", smsOpts.Duration, "how long the SMS spike's starts last; 0 skips it")
	smsOnly := fs.Bool("sms-only", false, "run the SMS spike alone and write its section to -out")
	coldRuns := fs.Int("coldstarts", 20, "cold starts of each built bootstrap (size and init time); 0 skips them")
	coldOnly := fs.Bool("coldstart-only", false, "measure the cold starts alone and write their section to -out")
	coldNames := fs.String("coldstart-functions", "", "comma-separated function folders to cold-start (default: all)")
	fs.IntVar(&bench.EmulatorNice, "emulator-nice", bench.EmulatorNice, "niceness of the emulator processes (they are other machines in AWS); 0 for none")
	fs.IntVar(&bench.WorkerBatches, "worker-batches", bench.WorkerBatches, "cap on each queue function's concurrent batches (template.yaml allows the worker 10; DynamoDB Local serialises writes); 0 for the template's")
	fs.BoolVar(&bench.WorkerProcess, "worker-process", bench.WorkerProcess, "run the queue functions in a process of their own (as AWS runs them on instances of their own) instead of beside the API")
	fs.IntVar(&bench.WorkerNice, "worker-nice", bench.WorkerNice, "niceness of the worker process; 0 for none")
	logPath := fs.String("log", "", "write the functions' and the runner's log lines to this file")
	fs.StringVar(&bench.ProfileDir, "profile-dir", "", "write a CPU profile of this process for each ceiling measurement, while it is measured, into this folder (not with -cpuprofile)")
	ceilOnly := fs.Bool("ceilings-only", false, "measure the ceilings alone (no spike, overload or capacity runs) and write their section to -out")
	campOnly := fs.Bool("campaign-spike-only", false, "after the ceilings, run the spikes and the spike with a campaign behind it only, and write their sections to -out")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *logPath != "" {
		f, err := os.Create(*logPath)
		if err != nil {
			return err
		}
		defer f.Close()
		bench.FunctionLog = f
	}
	if *cpuprofile != "" && bench.ProfileDir != "" {
		return fmt.Errorf("-cpuprofile and -profile-dir cannot both be given: one CPU profile runs at a time")
	}
	if bench.ProfileDir != "" {
		if err := os.MkdirAll(bench.ProfileDir, 0o755); err != nil {
			return err
		}
		// Allocations sampled finer than the default 512 KiB, for the
		// allocation profiles of the measurements.
		runtime.MemProfileRate = 64 << 10
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
	var only []string
	if *coldNames != "" {
		only = strings.Split(*coldNames, ",")
	}
	var colds []bench.ColdStart
	if *coldRuns > 0 {
		// First, on a machine the rest of the bench has not loaded yet.
		fmt.Fprintf(os.Stderr, "cold starts: building the bootstraps, %d starts each…\n", *coldRuns)
		if colds, err = bench.MeasureColdStarts(ctx, *template, kind, only, *coldRuns); err != nil {
			return err
		}
	}
	if *coldOnly {
		if len(colds) == 0 {
			return fmt.Errorf("-coldstart-only needs -coldstarts above 0")
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "# Cold starts\n\nWritten by `go run ./infra/cmd/pccc-bench %s` on %s (%s, stack `%s`).\n\n", strings.Join(args, " "),
			time.Now().UTC().Format("2006-01-02 15:04 MST"), bench.Machine(), kind)
		bench.WriteColdStarts(&b, colds)
		if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
			return err
		}
		os.Stdout.Write(b.Bytes())
		return nil
	}
	if *smsOnly {
		if smsOpts.Duration <= 0 {
			return fmt.Errorf("-sms-only needs -sms-spike above 0")
		}
		fmt.Fprintf(os.Stderr, "SMS spike alone on %s: provider %.0f/s, starts %.0f/s for %v…\n", kind, smsOpts.Rate, smsOpts.Rate*smsOpts.Factor, smsOpts.Duration)
		r, err := bench.SMSSpike(ctx, *template, kind, smsOpts)
		if err != nil {
			return err
		}
		var b bytes.Buffer
		fmt.Fprintf(&b, "# SMS spike\n\nWritten by `go run ./infra/cmd/pccc-bench %s` on %s (%s, stack `%s`, %.0f s).\n\n", strings.Join(args, " "),
			time.Now().UTC().Format("2006-01-02 15:04 MST"), bench.Machine(), kind, time.Since(started).Seconds())
		bench.WriteSMSSpike(&b, r)
		if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
			return err
		}
		os.Stdout.Write(b.Bytes())
		return nil
	}
	env := func(rate int) map[string]string {
		return map[string]string{
			// Reissues are the surge; the yearly quota would stop a bench
			// holder after five.
			"REISSUES_PER_YEAR": "366",
			"ADMIT_MAX_RATE":    strconv.Itoa(rate),
		}
	}
	// The ceilings are measured with the rate bound on but far away, so
	// they include what the bound costs (its counter's writes).
	fmt.Fprintf(os.Stderr, "starting the system on %s…\n", kind)
	// The latency bound is off for them: a closed loop runs at
	// saturation, where the bound would shed what is being measured.
	ceilEnv := env(1_000_000)
	ceilEnv["ADMIT_MAX_LATENCY"] = "0"
	s, err := bench.Start(ctx, *template, kind, ceilEnv)
	if err != nil {
		return err
	}
	defer func() { s.Close() }()
	// The functions run in this process here, each in a process of its
	// own in Lambda: this one takes their GOGC from template.yaml.
	if v, ok := s.Runner.FunctionEnv("ReissueCodeFunction"); ok && v["GOGC"] != "" {
		if n, err := strconv.Atoi(v["GOGC"]); err == nil {
			debug.SetGCPercent(n)
			gcPercent = n
		}
	}
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
	if *ceilOnly {
		var b bytes.Buffer
		fmt.Fprintf(&b, "# Ceilings\n\nWritten by `go run ./infra/cmd/pccc-bench %s` on %s (%s, stack `%s`, %.0f s). %d workers, %v per measurement after %v of warm-up.\n\n", strings.Join(args, " "),
			time.Now().UTC().Format("2006-01-02 15:04 MST"), bench.Machine(), kind, time.Since(started).Seconds(), *workers, *dur, *warm)
		bench.WriteCeilings(&b, c)
		if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
			return err
		}
		os.Stdout.Write(b.Bytes())
		return nil
	}
	// The operator's step: the command rate bound set to the measured
	// accept ceiling (template.yaml's CommandRateLimit), deployed: the
	// functions start anew with it on the same table and queues, and are
	// warmed up before anything is recorded.
	limit := max(1, int(math.Round(c.Accept.PerSecond)))
	fmt.Fprintf(os.Stderr, "redeploying the functions with ADMIT_MAX_RATE=%d…\n", limit)
	deployed := env(limit)
	// Campaigns yield to a public backlog past one second of the workers'
	// measured drain (the operator's CampaignYieldBacklog, sized alike).
	yield := max(10, int(math.Round(c.Drain.PerSecond)))
	deployed["CAMPAIGN_YIELD_BACKLOG"] = strconv.Itoa(yield)
	deployed["CAMPAIGN_MAX_RATE"] = strconv.Itoa(max(1, *campaignRate))
	if err := s.Redeploy(ctx, deployed); err != nil {
		return err
	}
	// The campaign's holders go in first, so every spike without the
	// campaign meets the same table as the one with it, and before the
	// warm-up, so the first spike does not meet DynamoDB Local just after
	// 40,000 writes (the run that seeded after the warm-up drained its
	// first spike 15 % late, with its highest p99 of five; likely why).
	var campaignLive []string
	if *campaignCodes > 0 {
		fmt.Fprintf(os.Stderr, "seeding the campaign's %d holders…\n", *campaignCodes)
		if campaignLive, err = bench.SeedCampaignHolders(ctx, s, *campaignCodes); err != nil {
			return err
		}
	}
	peak := c.Accept.PerSecond / 2
	warmRun := loadgen.Profile{{Name: "warm-up", Duration: *peakDur / 2, StartRate: peak, EndRate: peak}}
	if _, err := bench.Spike(ctx, s, "warm-up", toks, warmRun, bench.People, c.Drain.PerSecond); err != nil {
		return err
	}
	profile := loadgen.Spike(peak/100, 100, 5*time.Second, 5*time.Second, *peakDur, *peakDur/2)
	fmt.Fprintf(os.Stderr, "spike run: baseline %.1f/s, peak %.1f/s…\n", peak/100, peak)
	spike, err := bench.Spike(ctx, s, "Spike: baseline, 100x, decay", toks, profile, bench.People, c.Drain.PerSecond)
	if err != nil {
		return err
	}
	runs := []bench.SpikeResult{spike}
	for i := range *repeats {
		fmt.Fprintf(os.Stderr, "spike run %d of %d…\n", i+2, *repeats+1)
		r, err := bench.Spike(ctx, s, fmt.Sprintf("Spike, run %d", i+2), toks, profile, bench.People, c.Drain.PerSecond)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	var campSpike *bench.CampaignSpikeResult
	if *campaignCodes > 0 {
		fmt.Fprintf(os.Stderr, "spike run with a %d-code campaign behind it (rate cap %d/s, yielding past a backlog of %d)…\n", *campaignCodes, *campaignRate, yield)
		r, err := bench.CampaignSpike(ctx, s, toks, profile, campaignLive, *campaignRate, c.Drain.PerSecond)
		if err != nil {
			return err
		}
		campSpike = &r
	}
	if *campOnly {
		var b bytes.Buffer
		fmt.Fprintf(&b, "# A spike with a campaign behind it\n\nWritten by `go run ./infra/cmd/pccc-bench %s` on %s (%s, stack `%s`, %.0f s); peak %.1f/s, half the accept ceiling.\n\n", strings.Join(args, " "),
			time.Now().UTC().Format("2006-01-02 15:04 MST"), bench.Machine(), kind, time.Since(started).Seconds(), peak)
		bench.WriteRepeats(&b, runs)
		if campSpike != nil {
			fmt.Fprintln(&b)
			bench.WriteCampaignSpike(&b, spike, *campSpike)
		}
		if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
			return err
		}
		os.Stdout.Write(b.Bytes())
		return nil
	}
	over := loadgen.Profile{{Name: "overload", Duration: *peakDur, StartRate: 2 * c.Accept.PerSecond, EndRate: 2 * c.Accept.PerSecond}}
	fmt.Fprintf(os.Stderr, "overload run: %.1f/s…\n", 2*c.Accept.PerSecond)
	overload, err := bench.Spike(ctx, s, "Overload: reissues at twice the accept ceiling", toks, over, bench.Reissues, c.Drain.PerSecond)
	if err != nil {
		return err
	}
	plan, err := bench.MeasurePlan(ctx, s, c.Drain.PerSecond)
	if err != nil {
		return err
	}
	// The runs below each start a system of their own: one that fails is
	// reported with the figures of the others, which are kept, and make
	// bench still fails once the report is written.
	var unfinished []string
	var smsRes *bench.SMSSpikeResult
	if smsOpts.Duration > 0 {
		// A system of its own: the SMS spike's people and provider.
		s.Close()
		fmt.Fprintf(os.Stderr, "SMS spike: provider %.0f/s, starts %.0f/s for %v…\n", smsOpts.Rate, smsOpts.Rate*smsOpts.Factor, smsOpts.Duration)
		r, err := bench.SMSSpike(ctx, *template, kind, smsOpts)
		if err != nil {
			unfinished = append(unfinished, fmt.Sprintf("the SMS spike: %v", err))
		} else {
			smsRes = &r
		}
	}
	var campFaultRes *bench.CampaignFaultResult
	if *campaignFaults > 0 {
		s.Close()
		fmt.Fprintf(os.Stderr, "campaign under faults: %d holders…\n", *campaignFaults)
		f := bench.DefaultFaults()
		f.ReaderKills, f.ReaderChunk = []int64{2, 5}, 500
		r, err := bench.CampaignFaultRun(ctx, *template, kind, *campaignFaults, f)
		if err != nil {
			unfinished = append(unfinished, fmt.Sprintf("the campaign under faults: %v", err))
		} else {
			campFaultRes = &r
		}
	}
	var faultRes *bench.FaultResult
	if *faultHolders > 0 {
		// A fresh system: the faults must not touch the measurements above.
		s.Close()
		fmt.Fprintf(os.Stderr, "run under faults: %d holders…\n", *faultHolders)
		r, err := bench.FaultRun(ctx, *template, kind, *faultHolders, 64, bench.DefaultFaults())
		if err != nil {
			unfinished = append(unfinished, fmt.Sprintf("the run under faults: %v", err))
		} else {
			faultRes = &r
		}
	}
	if f, err := os.Create(*chartPath); err == nil {
		if err := bench.Chart(f, spike); err != nil {
			return err
		}
		_ = f.Close()
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Benchmarks\n\nWritten by `make bench` (`go run ./infra/cmd/pccc-bench %s`) on %s.\n\n",
		strings.Join(args, " "), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s.\n- Stack: `%s`; functions invoked in-process with real API Gateway and SQS events. %s %s\n", bench.Machine(), kind, workerPlacement(), gcSetting())
	fmt.Fprintf(&b, "- Emulators at niceness %d (in AWS they are other machines). %s\n- Run took %.0f s.\n\n", bench.EmulatorNice, workerBatches(), time.Since(started).Seconds())
	fmt.Fprintf(&b, "## Ceilings, side by side\n\nClosed loop: %d workers each send the next call when the last one ends, %v per measurement after %v of warm-up, all in this one run, so the ratios hold on a noisy machine where the absolute rates do not. The load generator shares the machine's cores with the system and the emulators.\n\n", *workers, *dur, *warm)
	bench.WriteCeilings(&b, c)
	fmt.Fprintf(&b, "\n## Against the targets\n\nThe spike and overload runs below, judged on the issue's acceptance items.\n\n")
	bench.WriteVerdict(&b, bench.Verdict(c, spike, overload))
	fmt.Fprintf(&b, "\nThe spike and overload runs use functions redeployed with the command rate bound (`ADMIT_MAX_RATE`, template.yaml's `CommandRateLimit`) set to the measured accept ceiling, **%d commands/s**, as an operator sizes it, on the same table, queues and emulators (a deploy in AWS does not restart DynamoDB either); they are warmed up for %v at the spike's peak rate before anything is recorded.\n", limit, *peakDur/2)
	fmt.Fprintf(&b, "\n## Spike run\n\nPeak at half the measured accept ceiling; ![offered, accepted and processed rates and queue depth](%s)\n\n", *chartPath)
	bench.WriteSpike(&b, spike)
	if len(runs) > 1 {
		fmt.Fprintf(&b, "\n## The spike, %d times\n\nThe same profile played %d times in a row on the same system (each run with Idempotency-Keys of its own), so that the accept p99 is judged over all of them, not one lucky run.\n\n", len(runs), len(runs))
		bench.WriteRepeats(&b, runs)
	}
	if campSpike != nil {
		fmt.Fprintf(&b, "\n## Spike run with an authority campaign behind it\n\n")
		bench.WriteCampaignSpike(&b, spike, *campSpike)
	}
	fmt.Fprintf(&b, "\n## Overload run\n\nReissues alone, offered at twice the measured accept ceiling (which is a reissue-only figure, so goodput is held against a like measurement): the rate bound takes about the ceiling and refuses the rest at once with `503 OVERLOADED` and `Retry-After`.\n\n")
	bench.WriteSpike(&b, overload)
	fmt.Fprintf(&b, "\n## Capacity per command, and the surge day in AWS\n\n")
	bench.WritePlan(&b, plan)
	if smsRes != nil {
		fmt.Fprintf(&b, "\n## SMS spike\n\n")
		bench.WriteSMSSpike(&b, *smsRes)
	}
	if len(colds) > 0 {
		fmt.Fprintf(&b, "\n## Cold starts of the built bootstraps\n\n")
		bench.WriteColdStarts(&b, colds)
	}
	if faultRes != nil {
		fmt.Fprintf(&b, "\n## Under faults\n\nA fresh system whose functions reach DynamoDB and SQS through fault proxies (`infra/faults`), then the consistency checker (`infra/consistency`) over the whole table.\n\n")
		bench.WriteFaults(&b, *faultRes)
	}
	if campFaultRes != nil {
		fmt.Fprintf(&b, "\n## A campaign under faults\n\n")
		bench.WriteCampaignFaults(&b, *campFaultRes)
	}
	if len(unfinished) > 0 {
		fmt.Fprintf(&b, "\n## Runs that did not finish\n\n")
		for _, u := range unfinished {
			fmt.Fprintf(&b, "- %s\n", u)
		}
	}
	if err := os.WriteFile(*out, b.Bytes(), 0o644); err != nil {
		return err
	}
	os.Stdout.Write(b.Bytes())
	if len(unfinished) > 0 {
		return fmt.Errorf("%d runs did not finish (their errors are at the end of %s): %s", len(unfinished), *out, strings.Join(unfinished, "; "))
	}
	return nil
}
