package bench

import (
	"fmt"
	"io"
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
	fmt.Fprintf(w, "| run | accept p50 (ms) | accept p99 (ms) | reissues taken (2xx) /s | peak backlog | drain (s) vs backlog ÷ worker rate (s) | host time stolen |\n|---:|---:|---:|---:|---:|---|---:|\n")
	for i, r := range runs {
		e, _ := endpoint(r, EpReissue)
		fmt.Fprintf(w, "| %d | %s | %s | %.1f | %d | %.2f vs %.2f | %.1f %% |\n", i+1, ms(e.P50), ms(e.P99), e.Goodput, r.PeakBacklog, r.Drain.Seconds(), r.Expected.Seconds(), 100*r.Steal)
	}
	fmt.Fprintln(w)
	WriteVerdict(w, []Check{RepeatCheck(runs)})
}
