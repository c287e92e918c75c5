package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// RepeatCheck judges the spike's accept p99 over every run of the same
// profile (the first spike and its repeats): a figure that holds once on
// a shared machine may not hold again, so the target is all of them.
func RepeatCheck(runs []SpikeResult) Check {
	var figs []string
	met := len(runs) > 0
	for _, r := range runs {
		e, ok := endpoint(r, EpReissue)
		if !ok {
			figs = append(figs, "none")
			met = false
			continue
		}
		figs = append(figs, ms(e.P99))
		met = met && e.P99 <= 50*time.Millisecond
	}
	return Check{
		Item:   fmt.Sprintf("spike: accept (reissue) p99 in each of %d runs", len(runs)),
		Figure: strings.Join(figs, ", ") + " ms",
		Target: fmt.Sprintf("≤ 50 ms in %d of %d", len(runs), len(runs)),
		Met:    met,
	}
}

// WriteRepeats writes each run of the spike profile: its reissues' p50
// and p99, what was taken, the peak backlog, the drain, and the share of
// the machine's time stolen by other guests while it ran.
func WriteRepeats(w io.Writer, runs []SpikeResult) {
	fmt.Fprintf(w, "| run | accept p50 (ms) | accept p99 (ms) | reissues taken (2xx) /s | peak backlog | drain (s) vs backlog ÷ worker rate (s) | host busy | host time stolen |\n|---:|---:|---:|---:|---:|---|---:|---:|\n")
	for i, r := range runs {
		e, _ := endpoint(r, EpReissue)
		fmt.Fprintf(w, "| %d | %s | %s | %.1f | %d | %.2f vs %.2f | %.0f %% | %.1f %% |\n", i+1, ms(e.P50), ms(e.P99), e.Goodput, r.PeakBacklog, r.Drain.Seconds(), r.Expected.Seconds(), 100*r.Busy, 100*r.Steal)
	}
	fmt.Fprintln(w)
	WriteVerdict(w, []Check{RepeatCheck(runs)})
	writeRepeatCalls(w, runs)
}

// writeRepeatCalls writes, run by run, the p50 and p99 of each SDK call
// the API's functions made while the arrivals lasted: what an accept
// waited on when its tail grew.
func writeRepeatCalls(w io.Writer, runs []SpikeResult) {
	ops := callOps(runs)
	if len(ops) == 0 {
		return
	}
	fmt.Fprintf(w, "\nThe SDK calls of the API's functions while the arrivals lasted, p50 / p99 in ms (calls), as the functions' clients timed them (retries included):\n\n| run |")
	for _, op := range ops {
		fmt.Fprintf(w, " %s |", op)
	}
	fmt.Fprintf(w, "\n|---:|%s\n", strings.Repeat("---:|", len(ops)))
	for i, r := range runs {
		fmt.Fprintf(w, "| %d |", i+1)
		for _, op := range ops {
			fmt.Fprintf(w, " %s |", callCell(r, op))
		}
		fmt.Fprintln(w)
	}
}

// callOps are the operations the runs' API functions called, sorted.
func callOps(runs []SpikeResult) []string {
	var ops []string
	seen := map[string]bool{}
	for _, r := range runs {
		for _, c := range r.Calls {
			if !seen[c.Op] {
				seen[c.Op] = true
				ops = append(ops, c.Op)
			}
		}
	}
	sort.Strings(ops)
	return ops
}

// callCell is one run's p50 / p99 of an operation, and how many calls.
func callCell(r SpikeResult, op string) string {
	for _, c := range r.Calls {
		if c.Op == op {
			return fmt.Sprintf("%s / %s (%d)", ms(c.P50), ms(c.P99), c.Calls)
		}
	}
	return "-"
}
