package bench

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Machine describes where a run happened.
func Machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		_, _ = fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
	}
	kernel := ""
	if out, err := exec.Command("uname", "-sr").Output(); err == nil {
		kernel = ", " + strings.TrimSpace(string(out))
	}
	return fmt.Sprintf("%d cores (%s)%s%s, %s %s/%s", runtime.NumCPU(), cpu, mem, kernel, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// WriteCeilings writes the ceilings section.
func WriteCeilings(w io.Writer, c Ceilings) {
	fmt.Fprintf(w, "| measurement | workers | completed | rate (/s) | p50 (ms) | p99 (ms) | errors |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range c.Rates() {
		if r.Name == "" {
			continue // not measured in this run
		}
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %s | %s | %d |\n", r.Name, r.Workers, r.OK, r.PerSecond, ms(r.P50), ms(r.P99), r.Fails)
	}
	for _, r := range c.Rates() {
		if r.Fails > 0 {
			fmt.Fprintf(w, "\n%s: %d failed; the first: %s\n", r.Name, r.Fails, r.FirstFail)
		}
	}
	f := FairRatios(c)
	fmt.Fprintf(w, "\n| ratio | value | target | met |\n|---|---:|---:|---|\n")
	if f.AcceptCPU > 0 {
		fmt.Fprintf(w, "| accept path, workers paused: this process's processor time per accepted command / its calls made raw (%.0f µs / %.0f µs) | %.2f | ≤ %.2f | %s |\n",
			us(f.AcceptCPU), us(f.CallsCPU), f.AcceptCPURatio, MaxAcceptCPURatio, yes(f.AcceptCPUMet()))
	}
	fmt.Fprintf(w, "| lookup / the same GetItem on the same items (rate) | %.2f | ≥ %.2f | %s |\n", f.LookupRate, MinLookupRatio, yes(f.LookupMet()))
	if f.LookupCPU > 0 {
		fmt.Fprintf(w, "| lookup: this process's processor time per call / the same GetItem's (%.0f µs / %.0f µs) | %.2f | | |\n", us(f.LookupCPU), us(f.GetCPU), f.LookupCPURatio)
	}
	if f.HTTPAcceptCPU > 0 && f.HopCPU > 0 {
		fmt.Fprintf(w, "| over loopback HTTP: accept path, workers paused / its calls made raw behind a trivial handler (%.0f µs / %.0f µs) | %.2f | | |\n", us(f.HTTPAcceptCPU), us(f.HopCPU), f.AcceptHopCPURatio)
	}
	if f.HTTPAcceptCPU > 0 && f.CallsCPU > 0 {
		fmt.Fprintf(w, "| over loopback HTTP: accept path, workers paused / its calls made raw (%.0f µs / %.0f µs) | %.2f | | |\n", us(f.HTTPAcceptCPU), us(f.CallsCPU), float64(f.HTTPAcceptCPU)/float64(f.CallsCPU))
	}
	fmt.Fprintf(w, "| over loopback HTTP: lookup / the same GetItem (rate) | %.2f | | |\n", ratio(c.Lookup.PerSecond, c.GetItem.PerSecond))
	fmt.Fprintf(w, "| accept path, workers paused / its calls made raw (rate) | %.2f | | |\n", f.AcceptRate)
	fmt.Fprintf(w, "| accept path / trivial HTTP handler (rate) | %.2f | | |\n", ratio(c.Accept.PerSecond, c.TrivialHTTP.PerSecond))
	fmt.Fprintf(w, "| extra p99 of the accept path, workers paused, over its calls made raw | %s ms | | |\n", ms(f.accept.P99-c.AcceptCalls.P99))
	fmt.Fprintf(w, "| extra p99 of the lookup over the same GetItem | %s ms | | |\n", ms(f.lookup.P99-c.GetItem.P99))
	writeCPU(w, c)
	fmt.Fprintf(w, "\nBacklog left by the accept run: %d commands, drained in %.1f s: **%.0f commands/s** through the worker.\n",
		c.Drain.Backlog, c.Drain.Took.Seconds(), c.Drain.PerSecond)
}

// writeCPU says where each measurement's time went: processor time per
// completed call, by process.
func writeCPU(w io.Writer, c Ceilings) {
	rates := c.Rates()
	if rates[0].CPU == nil {
		return
	}
	fmt.Fprintf(w, "\nWhere the time goes: processor time per completed call (µs), by process, read from /proc while each measurement ran (%d cores: %d µs of processor a second in all).\n\n", runtime.NumCPU(), runtime.NumCPU()*1_000_000)
	fmt.Fprintf(w, "| measurement | %s | all |\n|---|%s---:|\n", strings.Join(procs, " | "), strings.Repeat("---:|", len(procs)))
	for _, r := range rates {
		if r.OK == 0 || r.Name == "" {
			continue
		}
		per := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d.Microseconds())/float64(r.OK)) }
		cols := make([]string, len(procs))
		for i, p := range procs {
			cols[i] = per(r.CPU[p])
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", r.Name, strings.Join(cols, " | "), per(r.CPU.total()))
	}
	writeAcceptShortfall(w, c)
}

// cpuPerCall is a measurement's processor time per completed call, all
// processes together; 0 when it was not read.
func cpuPerCall(r Rate) time.Duration {
	if r.OK == 0 || r.CPU == nil {
		return 0
	}
	return r.CPU.total() / time.Duration(r.OK)
}

// The targets of the fair ratios (issue 19, item 7).
const (
	MaxAcceptCPURatio = 1.15
	MinLookupRatio    = 0.90
)

// Fair are the ratios of the system's paths to the same SDK calls made
// raw in the same run: the accept path (workers paused) against its read,
// conditional write and send, in this process's processor time per call;
// the lookup against the same GetItem on the same items, in rate and in
// this process's processor time. The paths are the ones called in-process
// (Ceilings.AcceptDirect, LookupDirect) where they were measured, else
// over loopback HTTP. Processor times are per completed call; 0 where
// /proc was not read.
type Fair struct {
	AcceptCPU, CallsCPU, LookupCPU, GetCPU time.Duration
	AcceptCPURatio, LookupCPURatio         float64
	AcceptRate, LookupRate                 float64
	// HopCPU is the accept path's calls made raw behind a trivial handler
	// (the HTTP hop and the calls, without the runner and the function),
	// against HTTPAcceptCPU, the accept path over the same hop.
	HopCPU, HTTPAcceptCPU time.Duration
	AcceptHopCPURatio     float64
	// accept and lookup are the measurements the ratios are of.
	accept, lookup Rate
}

// FairRatios computes Fair from a run's ceilings.
func FairRatios(c Ceilings) Fair {
	f := Fair{accept: c.AcceptAlone, lookup: c.Lookup}
	if c.AcceptDirect.OK > 0 {
		f.accept = c.AcceptDirect
	}
	if c.LookupDirect.OK > 0 {
		f.lookup = c.LookupDirect
	}
	f.AcceptCPU, f.CallsCPU = selfPerCall(f.accept), selfPerCall(c.AcceptCalls)
	f.LookupCPU, f.GetCPU = selfPerCall(f.lookup), selfPerCall(c.GetItem)
	f.AcceptRate = ratio(f.accept.PerSecond, c.AcceptCalls.PerSecond)
	f.LookupRate = ratio(f.lookup.PerSecond, c.GetItem.PerSecond)
	if f.CallsCPU > 0 {
		f.AcceptCPURatio = float64(f.AcceptCPU) / float64(f.CallsCPU)
	}
	f.HTTPAcceptCPU = selfPerCall(c.AcceptAlone)
	if f.HopCPU = selfPerCall(c.AcceptCallsHTTP); f.HopCPU > 0 {
		f.AcceptHopCPURatio = float64(f.HTTPAcceptCPU) / float64(f.HopCPU)
	}
	if f.GetCPU > 0 {
		f.LookupCPURatio = float64(f.LookupCPU) / float64(f.GetCPU)
	}
	return f
}

// AcceptCPUMet says the accept path costs this process at most
// MaxAcceptCPURatio of its calls made raw.
func (f Fair) AcceptCPUMet() bool {
	return f.AcceptCPU > 0 && f.CallsCPU > 0 && f.AcceptCPURatio <= MaxAcceptCPURatio
}

// LookupMet says the lookup reaches MinLookupRatio of the same GetItem's rate.
func (f Fair) LookupMet() bool { return f.LookupRate >= MinLookupRatio }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// selfPerCall is this process's processor time per completed call.
func selfPerCall(r Rate) time.Duration {
	if r.OK == 0 || r.CPU == nil {
		return 0
	}
	return r.CPU[ProcSelf] / time.Duration(r.OK)
}

// writeAcceptShortfall says, from this run's figures, what the accept path
// and the lookup cost beyond the SDK calls they make, and where that is.
func writeAcceptShortfall(w io.Writer, c Ceilings) {
	f := FairRatios(c)
	if f.AcceptCPU == 0 || f.CallsCPU == 0 || f.LookupCPU == 0 || f.GetCPU == 0 {
		return
	}
	how := "over loopback HTTP (the load generator, the runner standing in for CloudFront and API Gateway, the function, the SDK)"
	if c.AcceptDirect.OK > 0 {
		how = "as the Lambda runtime calls them: each function invoked in this process with the payload-2.0 event API Gateway would send it (built by the runner once per holder, only the Idempotency-Key put in per call), its answer's status read; in AWS the HTTP server, the distribution and the event are API Gateway's and CloudFront's, not the function's"
	}
	fmt.Fprintf(w, "\nThe fair baseline of each path is the same SDK calls made raw from this process in the same run, with the same inputs: for the accept path the holder's read and the request's conditional write at once, then the send (a body of a command's size); for the lookup the same GetItem on the same holders' items. The paths are measured %s, turn about with their baselines. With the workers paused, this process spent %.0f µs per accepted command against %.0f µs for its three calls made raw: %.2f× (target ≤ %.2f), %.0f µs beyond the calls. In all processes (the emulators included) a command cost %.0f µs against %.0f µs for its calls. The lookup spent %.0f µs here against %.0f µs for its GetItem (%.2f×), %.0f µs in all against %.0f µs, and reached %.2f of its rate (target ≥ %.2f): every process shares the same cores, so rates divide as processor time per call does.",
		how, us(f.AcceptCPU), us(f.CallsCPU), f.AcceptCPURatio, MaxAcceptCPURatio, us(f.AcceptCPU-f.CallsCPU),
		us(cpuPerCall(f.accept)), us(cpuPerCall(c.AcceptCalls)),
		us(f.LookupCPU), us(f.GetCPU), f.LookupCPURatio, us(cpuPerCall(f.lookup)), us(cpuPerCall(c.GetItem)), f.LookupRate, MinLookupRatio)
	if f.HTTPAcceptCPU > 0 && f.HopCPU > 0 {
		fmt.Fprintf(w, " Over loopback HTTP, as the spike drives it, an accepted command cost this process %.0f µs against %.0f µs for the same calls behind a trivial handler on the same hop (%.2f×): the hop alone, client and server, is %.0f µs.",
			us(f.HTTPAcceptCPU), us(f.HopCPU), f.AcceptHopCPURatio, us(f.HopCPU-f.CallsCPU))
	}
	fmt.Fprintln(w)
}
