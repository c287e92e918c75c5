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
	fmt.Fprintf(w, "| measurement | %s | %s | %s | all |\n|---|---:|---:|---:|---:|\n", ProcSelf, ProcJava, ProcNode)
	for _, r := range rates {
		if r.OK == 0 {
			continue
		}
		per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(r.OK) }
		all := r.CPU[ProcSelf] + r.CPU[ProcJava] + r.CPU[ProcNode]
		fmt.Fprintf(w, "| %s | %.0f | %.0f | %.0f | %.0f |\n", r.Name, per(r.CPU[ProcSelf]), per(r.CPU[ProcJava]), per(r.CPU[ProcNode]), per(all))
	}
}
