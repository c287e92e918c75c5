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
		fmt.Fprintf(w, "| %s | %d | %d | %.0f | %s | %s | %d |\n", r.Name, r.Workers, r.OK, r.PerSecond, ms(r.P50), ms(r.P99), r.Fails)
	}
	for _, r := range c.Rates() {
		if r.Fails > 0 {
			fmt.Fprintf(w, "\n%s: %d failed; the first: %s\n", r.Name, r.Fails, r.FirstFail)
		}
	}
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	fmt.Fprintf(w, "\n| ratio | value | target |\n|---|---:|---:|\n")
	fmt.Fprintf(w, "| accept path / raw SendMessage | %.2f | ≥ 0.80 |\n", ratio(c.Accept.PerSecond, c.SendMessage.PerSecond))
	fmt.Fprintf(w, "| lookup / raw GetItem | %.2f | ≥ 0.80 |\n", ratio(c.Lookup.PerSecond, c.GetItem.PerSecond))
	fmt.Fprintf(w, "| accept path, workers paused / raw SendMessage | %.2f | |\n", ratio(c.AcceptAlone.PerSecond, c.SendMessage.PerSecond))
	fmt.Fprintf(w, "| accept path / trivial HTTP handler | %.2f | |\n", ratio(c.Accept.PerSecond, c.TrivialHTTP.PerSecond))
	fmt.Fprintf(w, "| extra p99 of the accept path over raw SendMessage | %s ms | |\n", ms(c.Accept.P99-c.SendMessage.P99))
	fmt.Fprintf(w, "| extra p99 of the lookup over raw GetItem | %s ms | |\n", ms(c.Lookup.P99-c.GetItem.P99))
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
		if r.OK == 0 {
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

// writeAcceptShortfall says, from this run's figures, why the accept path
// cannot reach 0.8 of raw SendMessage on shared cores, and what would
// close the gap.
func writeAcceptShortfall(w io.Writer, c Ceilings) {
	send, get, alone := cpuPerCall(c.SendMessage), cpuPerCall(c.GetItem), cpuPerCall(c.AcceptAlone)
	if send == 0 || get == 0 || alone == 0 {
		return
	}
	// The three calls alone: the read, the conditional write (a read and
	// a write, so at least a read's cost) and the send.
	floor := 2*get + send
	fmt.Fprintf(w, "\nThe accept path's ratio to raw SendMessage is bound by processor time, not by waiting: every process here shares the same cores, so rates divide as processor time per call does. With the workers paused a reissue costs %d µs in all against %d µs for one SendMessage (%.1f×): it is a SendMessage and more, the holder's read and the request's conditional write at once, then the send. Its three calls alone, priced at this run's raw figures (the read %d µs, the write at least as much, the send %d µs), come to %d µs, so even if nothing else cost anything the accept path could reach at most %.2f of raw SendMessage here. What would close it is what AWS has: DynamoDB and SQS on machines of their own, where the accept path's time is mostly the network's, two round trips (the read and the write together, then the send) against one.\n",
		alone.Microseconds(), send.Microseconds(), float64(alone)/float64(send),
		get.Microseconds(), send.Microseconds(), floor.Microseconds(), float64(send)/float64(floor))
}
