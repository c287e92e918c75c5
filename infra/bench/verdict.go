package bench

import (
	"fmt"
	"io"
	"time"

	"github.com/pccc/pccc/infra/loadgen"
)

// Check is one acceptance item of the surge issue, judged on this run's
// figures.
type Check struct {
	Item, Figure, Target string
	Met                  bool
}

// drainSlack is the resolution of the drain time: the queue depth is
// sampled every 100 ms and SQS's counts are approximate, so a backlog
// expected to drain in 0.1 s cannot be judged to 10% of that.
const drainSlack = 250 * time.Millisecond

// Verdict judges the spike and overload runs against the targets.
func Verdict(c Ceilings, spike, over SpikeResult) []Check {
	var out []Check
	add := func(item, figure, target string, met bool) {
		out = append(out, Check{Item: item, Figure: figure, Target: target, Met: met})
	}
	bad, timeouts := unexpected(spike)
	add("spike: 5xx other than 503 shedding", fmt.Sprint(bad), "0", bad == 0)
	add("spike: client timeouts", fmt.Sprint(timeouts), "0", timeouts == 0)
	add("spike and overload: reissues answered as replays of an earlier run's key", fmt.Sprintf("%d, %d", spike.Replayed, over.Replayed), "0, 0", spike.Replayed == 0 && over.Replayed == 0)
	if e, ok := endpoint(spike, EpReissue); ok {
		add("spike: accept (reissue) p99", ms(e.P99)+" ms", "≤ 50 ms", e.P99 <= 50*time.Millisecond)
	}
	add("spike: backlog drain vs backlog ÷ worker rate", fmt.Sprintf("%.2f s vs %.2f s", spike.Drain.Seconds(), spike.Expected.Seconds()),
		fmt.Sprintf("at most 10%% longer (or %v, the sampling resolution)", drainSlack), drained(spike))
	if e, ok := endpoint(over, EpReissue); ok {
		add("overload: goodput (reissues answered 202 a second) / accept ceiling",
			fmt.Sprintf("%.1f / %.1f = %.2f", e.Goodput, c.Accept.PerSecond, e.Goodput/c.Accept.PerSecond), "≥ 0.90", e.Goodput >= 0.9*c.Accept.PerSecond)
		refused := e.ByStatus[429] + e.ByStatus[503]
		add("overload: the excess refused (429/503), p99", fmt.Sprintf("%d refused, p99 %s ms", refused, ms(e.Refused.P99)), "≤ 50 ms",
			refused > 0 && e.Refused.P99 <= 50*time.Millisecond)
	}
	add("overload: refusals without Retry-After", fmt.Sprint(over.NoRetryAfter), "0", over.NoRetryAfter == 0)
	bad, timeouts = unexpected(over)
	add("overload: nothing collapses (5xx other than 503, timeouts)", fmt.Sprintf("%d, %d", bad, timeouts), "0, 0", bad == 0 && timeouts == 0)
	add("overload: backlog drain vs backlog ÷ worker rate", fmt.Sprintf("%.2f s vs %.2f s", over.Drain.Seconds(), over.Expected.Seconds()),
		fmt.Sprintf("at most 10%% longer (or %v)", drainSlack), drained(over))
	return out
}

func unexpected(r SpikeResult) (bad, timeouts int64) {
	for _, e := range r.Summary {
		for code, n := range e.ByStatus {
			if code >= 500 && code != 503 {
				bad += n
			}
		}
		bad += e.Errors
		timeouts += e.Timeouts
	}
	return bad, timeouts
}

// drained says the backlog took no more than 10% (or drainSlack) longer
// than backlog ÷ the measured worker rate: the bound is on how long people
// wait, so a drain faster than predicted meets it.
func drained(r SpikeResult) bool {
	late := r.Drain.Seconds() - r.Expected.Seconds()
	return late <= 0.1*r.Expected.Seconds() || late <= drainSlack.Seconds()
}

// WriteVerdict writes the checks as a table.
func WriteVerdict(w io.Writer, checks []Check) {
	fmt.Fprintf(w, "| item | this run | target | met |\n|---|---|---|---|\n")
	for _, c := range checks {
		met := "no"
		if c.Met {
			met = "yes"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", c.Item, c.Figure, c.Target, met)
	}
}

func endpoint(r SpikeResult, name string) (loadgen.EndpointSummary, bool) {
	for _, e := range r.Summary {
		if e.Endpoint == name {
			return e, true
		}
	}
	return loadgen.EndpointSummary{}, false
}
