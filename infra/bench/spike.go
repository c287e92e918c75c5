package bench

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pccc/pccc/infra/chart"
	"github.com/pccc/pccc/infra/loadgen"
	"github.com/pccc/pccc/shared/admission"
)

// Endpoints of the spike mix.
const (
	EpReissue = "POST /v1/codes/me/reissue"
	EpLookup  = "GET /v1/codes/me"
	EpStatus  = "GET /v1/requests/{id}"
)

// DepthSample is the command queue's backlog at one moment of a run.
type DepthSample struct {
	At    time.Duration
	Depth int
}

// SpikeResult is one open-loop run.
type SpikeResult struct {
	Name        string
	Profile     loadgen.Profile
	Summary     []loadgen.EndpointSummary
	Series      []loadgen.Second
	Depth       []DepthSample
	PeakBacklog int
	// Drain is how long the backlog took to empty after the last arrival;
	// Expected is the backlog at that moment divided by the drain rate
	// measured in the ceilings run.
	Drain, Expected time.Duration
	// NoRetryAfter counts 429 and 503 answers that came without a
	// Retry-After header.
	NoRetryAfter int64
	// Replayed counts reissues answered as replays of an earlier answer
	// (0: every one was a command of its own).
	Replayed int64
	// Refusals are the rate bound's refusals during the run, by reason.
	Refusals admission.Refusals
	// Steal is the share of the machine's processor time the hypervisor
	// gave to other guests during the arrivals (see HostTime); Busy the
	// share it spent running this guest's processes.
	Steal, Busy float64
	// Calls are the API functions' SDK calls during the arrivals, by
	// operation (CallTimes).
	Calls []CallTime
}

// Mix is what the n-th arrival of a run does, by n mod 10.
type Mix [10]string

var (
	// People: 7 in 10 reissue (with an Idempotency-Key), 2 look their
	// code up, 1 polls the status of their last request.
	People = Mix{EpReissue, EpReissue, EpReissue, EpReissue, EpReissue, EpReissue, EpReissue, EpLookup, EpLookup, EpStatus}
	// Reissues only: the overload run offers the accept path alone at a
	// multiple of its own ceiling.
	Reissues = Mix{EpReissue, EpReissue, EpReissue, EpReissue, EpReissue, EpReissue, EpReissue, EpReissue, EpReissue, EpReissue}
)

// Spike plays an open-loop profile of calls against the system, each
// doing what mix says. It samples the queue depth throughout and waits
// for the backlog to drain.
func Spike(ctx context.Context, s *System, name string, toks []string, p loadgen.Profile, mix Mix, drainRate float64) (SpikeResult, error) {
	url, err := s.QueueURL(ctx, CommandName)
	if err != nil {
		return SpikeResult{}, err
	}
	var last sync.Map // token index -> last request id
	// Each run's Idempotency-Keys are its own: a key of an earlier run
	// (the warm-up's, the spike's before the overload) would be answered
	// as a replay, with no command behind it.
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var noRetry, replayed atomic.Int64
	endpoint := func(seq int) string { return mix[seq%10] }
	do := func(ctx context.Context, seq int) loadgen.Result {
		ep := endpoint(seq)
		i := (seq * 7919) % len(toks)
		var a Answer
		var err error
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		switch ep {
		case EpReissue:
			a, err = s.Call(ctx, "POST", "/v1/codes/me/reissue", toks[i], "s-"+run+"-"+strconv.Itoa(seq), `{"reason":"leak_concern"}`)
			if err == nil && a.Status == 202 {
				last.Store(i, a.Body["requestId"])
			}
			if err == nil && a.Replayed {
				replayed.Add(1)
			}
		case EpLookup:
			a, err = s.Call(ctx, "GET", "/v1/codes/me", toks[i], "", "")
		default:
			id, ok := last.Load(i)
			if !ok {
				id = "AAAAAAAAAAAAAAAAAAAAAA" // not yet: a 404, as a too-early poll is
			}
			a, err = s.Call(ctx, "GET", "/v1/requests/"+id.(string), toks[i], "", "")
		}
		if err == nil && (a.Status == 429 || a.Status == 503) && a.RetryAfter == "" {
			noRetry.Add(1)
		}
		r := loadgen.Result{Endpoint: ep, Status: a.Status, Err: err}
		if errors.Is(err, context.DeadlineExceeded) {
			r.Timeout = true
		}
		return r
	}
	start := time.Now()
	var depth []DepthSample
	var dmu sync.Mutex
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if n, err := s.Depth(ctx, url); err == nil {
					dmu.Lock()
					depth = append(depth, DepthSample{At: time.Since(start), Depth: n})
					dmu.Unlock()
				}
			}
		}
	}()
	refusedBefore, hostBefore := admission.RateRefusals(), readHostTime()
	apiCalls.Start()
	rec := (&loadgen.Runner{Profile: p, Do: do, Endpoint: endpoint}).Run(ctx)
	calls := apiCalls.Stop()
	refusedNow, hostNow := admission.RateRefusals(), readHostTime()
	arrivalsEnd := time.Since(start)
	backlog, _ := s.Depth(ctx, url)
	for {
		n, err := s.Depth(ctx, url)
		if err != nil || n == 0 || time.Since(start) > arrivalsEnd+10*time.Minute {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	drain := time.Since(start) - arrivalsEnd
	time.Sleep(300 * time.Millisecond)
	close(stop)
	<-sampled
	res := SpikeResult{Name: name, Profile: p, Summary: rec.Summary(), Series: rec.Series(), Depth: depth, Drain: drain, NoRetryAfter: noRetry.Load(), Replayed: replayed.Load(),
		Refusals: admission.Refusals{Spent: refusedNow.Spent - refusedBefore.Spent, SpokenFor: refusedNow.SpokenFor - refusedBefore.SpokenFor,
			SlowCounter: refusedNow.SlowCounter - refusedBefore.SlowCounter}, Steal: StealShare(hostBefore, hostNow), Busy: BusyShare(hostBefore, hostNow), Calls: calls}
	if drainRate > 0 {
		res.Expected = time.Duration(float64(backlog) / drainRate * float64(time.Second))
	}
	for _, d := range depth {
		res.PeakBacklog = max(res.PeakBacklog, d.Depth)
	}
	return res, nil
}

// WriteSpike writes a run's section.
func WriteSpike(w io.Writer, r SpikeResult) {
	var peak float64
	for _, ph := range r.Profile {
		peak = max(peak, ph.StartRate, ph.EndRate)
	}
	fmt.Fprintf(w, "Profile: ")
	for i, ph := range r.Profile {
		if i > 0 {
			fmt.Fprint(w, " → ")
		}
		fmt.Fprintf(w, "%s %.0f s at %.1f→%.1f/s", ph.Name, ph.Duration.Seconds(), ph.StartRate, ph.EndRate)
	}
	fmt.Fprintf(w, " (peak %.1f/s), open loop: arrivals keep coming whether or not earlier calls finished.\n\n", peak)
	fmt.Fprintf(w, "| endpoint | offered | offered /s | answered /s | taken (2xx) /s | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | p99 of 2xx (ms) | p99 of 429/503 (ms) | statuses | errors | timeouts |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|\n")
	for _, e := range r.Summary {
		refused := "-"
		if e.ByStatus[429]+e.ByStatus[503] > 0 {
			refused = ms(e.Refused.P99)
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %.1f | %s | %s | %s | %s | %s | %s | %s | %d | %d |\n", e.Endpoint, e.Offered, e.OfferedRate, e.AchievedRate,
			e.Goodput, ms(e.P50), ms(e.P95), ms(e.P99), ms(e.Max), ms(e.OK.P99), refused, statuses(e.ByStatus), e.Errors, e.Timeouts)
	}
	fmt.Fprintf(w, "\nPeak backlog %d commands; after the last arrival the backlog drained in %.1f s (backlog ÷ measured worker rate: %.1f s). Reissues answered as replays of an earlier key: %d.\n",
		r.PeakBacklog, r.Drain.Seconds(), r.Expected.Seconds(), r.Replayed)
	if f := r.Refusals; f.Spent+f.SpokenFor+f.SlowCounter > 0 {
		fmt.Fprintf(w, "\nThe rate bound refused %d because the window's budget was known spent, %d because the calls already waiting had it spoken for, and %d because the counter did not answer within `LeaseWait`.\n",
			f.Spent, f.SpokenFor, f.SlowCounter)
	}
}

func statuses(m map[int]int64) string {
	out := ""
	for _, code := range []int{200, 202, 400, 403, 404, 409, 429, 500, 503} {
		if n := m[code]; n > 0 {
			if out != "" {
				out += ", "
			}
			out += fmt.Sprintf("%d×%d", n, code)
		}
	}
	return out
}

// Chart draws offered, accepted and processed rates and the queue depth.
func Chart(w io.Writer, r SpikeResult) error {
	secs := map[int]*[3]float64{} // offered, accepted (reissue 202), answered
	maxSec := 0
	for _, s := range r.Series {
		i := int(s.Offset / time.Second)
		maxSec = max(maxSec, i)
		v := secs[i]
		if v == nil {
			v = &[3]float64{}
			secs[i] = v
		}
		v[0] += float64(s.Offered)
		if s.Endpoint == EpReissue {
			v[1] += float64(s.Status2xx)
		}
	}
	var offered, accepted, processed, depth []chart.Point
	for i := 0; i <= maxSec; i++ {
		v := secs[i]
		if v == nil {
			v = &[3]float64{}
		}
		offered = append(offered, chart.Point{X: float64(i), Y: v[0]})
		accepted = append(accepted, chart.Point{X: float64(i), Y: v[1]})
	}
	// Processed per second: what was accepted in a second minus what the
	// backlog grew by.
	prev := DepthSample{}
	for _, d := range r.Depth {
		dt := (d.At - prev.At).Seconds()
		if dt <= 0 {
			continue
		}
		sec := int(d.At / time.Second)
		acc := 0.0
		if v := secs[sec]; v != nil {
			acc = v[1]
		}
		rate := acc - float64(d.Depth-prev.Depth)/dt
		processed = append(processed, chart.Point{X: d.At.Seconds(), Y: max(0, rate)})
		depth = append(depth, chart.Point{X: d.At.Seconds(), Y: float64(d.Depth)})
		prev = d
	}
	c := chart.Chart{
		Title: r.Name, XLabel: "seconds",
		Left: chart.Axis{Label: "requests/s"}, Right: chart.Axis{Label: "queue depth"},
		Series: []chart.Series{
			{Name: "offered", Color: color.RGBA{R: 90, G: 90, B: 90, A: 255}, Points: offered},
			{Name: "accepted (reissue 202)", Color: color.RGBA{R: 30, G: 110, B: 220, A: 255}, Points: accepted},
			{Name: "processed (estimated)", Color: color.RGBA{R: 30, G: 160, B: 60, A: 255}, Points: processed},
			{Name: "queue depth", Color: color.RGBA{R: 220, G: 60, B: 40, A: 255}, Axis: chart.Right, Points: depth},
		},
	}
	return c.Render(w)
}
