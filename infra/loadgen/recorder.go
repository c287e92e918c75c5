package loadgen

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"
)

// Result is what Do reports about one request. The Runner adds the
// timings; Do only classifies the outcome.
type Result struct {
	// Endpoint names what was called, e.g. "POST /codes". It is used for
	// accounting when the Runner has no Endpoint plan of its own.
	Endpoint string
	// Status is the HTTP status of the response, when one arrived.
	Status int
	// Err is set when no response arrived (refused, reset, cancelled).
	Err error
	// Timeout is set when the request was given up on for taking too long.
	// An Err wrapping context.DeadlineExceeded counts as a timeout too.
	Timeout bool
}

// Sample is one arrival as the Recorder sees it. Offsets are from the
// start of the run.
type Sample struct {
	Seq      int
	Endpoint string
	// Intended is when the arrival was due by the schedule.
	Intended time.Duration
	// Started is when Do was actually called (for a dropped arrival: when
	// the scheduler got to it). Started - Intended is the client's lag.
	Started time.Duration
	// Ended is when Do returned; unused for a dropped arrival.
	Ended time.Duration
	// Dropped is set when the arrival was not sent because MaxInFlight
	// requests were already outstanding.
	Dropped bool
	Result  Result
}

// Latency is a set of quantiles of one latency distribution.
type Latency struct {
	P50, P95, P99, Max time.Duration
}

// EndpointSummary is the whole-run account of one endpoint.
//
// Every arrival ends up in exactly one of Completed (a response arrived,
// whatever its status), Errors, Timeouts or Dropped, so Offered is their
// sum. Rates are per second over the recorder's window (the profile's
// duration, or the time until the run was cancelled).
type EndpointSummary struct {
	Endpoint     string
	Offered      int64
	Completed    int64
	OfferedRate  float64 // offered per second
	AchievedRate float64 // completed per second, any status
	Goodput      float64 // 2xx responses per second

	// P50..Max are latencies from the intended start: what a user arriving
	// on schedule would have waited, client lag included. This is the
	// figure to quote; it is immune to coordinated omission.
	P50, P95, P99, Max time.Duration
	// Service is latency from the actual start: the server's share.
	Service Latency
	// Lag is how late the client fired requests (actual - intended start).
	// A large lag means the client, not the server, was the bottleneck.
	Lag Latency
	// OK and Refused split the latency (from the intended start) by
	// answer: 2xx, and the deliberate refusals 429 and 503. An overload
	// run is judged on both: what was taken, and how fast the rest was
	// told to come back later.
	OK, Refused Latency

	ByStatus map[int]int64
	Errors   int64
	Timeouts int64
	Dropped  int64
}

// Second is one second of one endpoint in the time series. Offered and
// Dropped count arrivals by the second they were due; the other counts
// are by the second the request ended, so they show throughput as the
// system delivered it, lag and queueing included.
type Second struct {
	Offset   time.Duration // start of this second, from the run start
	Endpoint string

	Offered   int64
	Completed int64 // responses of any status: the sum of the Status fields

	Status2xx   int64
	Status4xx   int64 // client errors other than 429
	Status429   int64 // throttled
	Status503   int64 // shed or unavailable
	Status5xx   int64 // server errors other than 503
	StatusOther int64 // 1xx, 3xx, or anything else unexpected

	Errors   int64 // no response (Result.Err, not a timeout)
	Timeouts int64
	Dropped  int64 // not sent: MaxInFlight reached
}

// AllEndpoints is the Endpoint of the Total summary.
const AllEndpoints = "*"

// Recorder collects samples. It is safe for concurrent use: requests end
// on many goroutines at once. A single mutex is plenty at the rates a
// single client can offer, and keeps every view (Summary, Series)
// consistent with itself.
type Recorder struct {
	mu        sync.Mutex
	window    time.Duration
	endpoints map[string]*endpointStats
	seconds   int // length of the longest series
}

type endpointStats struct {
	offered, completed, errors, timeouts, dropped, ok int64
	byStatus                                          map[int]int64
	latency, service, lag, okLat, refusedLat          Histogram
	seconds                                           []Second
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder {
	return &Recorder{endpoints: map[string]*endpointStats{}}
}

// SetWindow sets the span rates are computed over. Without one, the
// span up to the latest sample is used.
func (r *Recorder) SetWindow(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.window = d
}

// Record adds one sample.
func (r *Recorder) Record(s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ep := r.endpoints[s.Endpoint]
	if ep == nil {
		ep = &endpointStats{byStatus: map[int]int64{}}
		r.endpoints[s.Endpoint] = ep
	}
	ep.offered++
	r.second(ep, s.Intended).Offered++
	if s.Dropped {
		ep.dropped++
		r.second(ep, s.Intended).Dropped++
		return
	}
	ep.lag.Record(s.Started - s.Intended)
	at := r.second(ep, s.Ended)
	res := s.Result
	switch {
	case res.Timeout || errors.Is(res.Err, context.DeadlineExceeded):
		ep.timeouts++
		at.Timeouts++
	case res.Err != nil:
		// A refused connection fails in microseconds; its "latency" says
		// nothing about the service, so errors stay out of the histograms.
		ep.errors++
		at.Errors++
		return
	default:
		ep.completed++
		ep.byStatus[res.Status]++
		at.Completed++
		if res.Status >= 200 && res.Status < 300 {
			ep.ok++
		}
		*statusField(at, res.Status)++
	}
	// Timeouts stay in: the time until giving up is a lower bound on the
	// latency, and leaving them out would flatter the tail exactly when it
	// matters.
	ep.latency.Record(s.Ended - s.Intended)
	ep.service.Record(s.Ended - s.Started)
	switch st := res.Status; {
	case res.Timeout:
	case st >= 200 && st < 300:
		ep.okLat.Record(s.Ended - s.Intended)
	case st == 429 || st == 503:
		ep.refusedLat.Record(s.Ended - s.Intended)
	}
}

// second returns ep's bucket for offset d, growing its series as needed,
// and notes the length of the longest series so Series can pad the
// others: a chart of one endpoint should not stop early because it went
// quiet.
func (r *Recorder) second(ep *endpointStats, d time.Duration) *Second {
	i := 0
	if d > 0 {
		i = int(d / time.Second)
	}
	for len(ep.seconds) <= i {
		ep.seconds = append(ep.seconds, Second{Offset: time.Duration(len(ep.seconds)) * time.Second})
	}
	if i >= r.seconds {
		r.seconds = i + 1
	}
	return &ep.seconds[i]
}

// statusField picks the status-class counter of a second for a status.
func statusField(s *Second, status int) *int64 {
	switch {
	case status >= 200 && status < 300:
		return &s.Status2xx
	case status == 429:
		return &s.Status429
	case status >= 400 && status < 500:
		return &s.Status4xx
	case status == 503:
		return &s.Status503
	case status >= 500 && status < 600:
		return &s.Status5xx
	default:
		return &s.StatusOther
	}
}

// Summary is the whole-run account of every endpoint, by endpoint name.
func (r *Recorder) Summary() []EndpointSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.endpoints))
	for name := range r.endpoints {
		names = append(names, name)
	}
	sort.Strings(names)
	window := r.span()
	out := make([]EndpointSummary, 0, len(names))
	for _, name := range names {
		out = append(out, r.endpoints[name].summary(name, window))
	}
	return out
}

// Total is the account of all endpoints together, under AllEndpoints.
func (r *Recorder) Total() EndpointSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	all := &endpointStats{byStatus: map[int]int64{}}
	for _, ep := range r.endpoints {
		all.offered += ep.offered
		all.completed += ep.completed
		all.errors += ep.errors
		all.timeouts += ep.timeouts
		all.dropped += ep.dropped
		all.ok += ep.ok
		for st, n := range ep.byStatus {
			all.byStatus[st] += n
		}
		all.latency.Merge(&ep.latency)
		all.service.Merge(&ep.service)
		all.lag.Merge(&ep.lag)
		all.okLat.Merge(&ep.okLat)
		all.refusedLat.Merge(&ep.refusedLat)
	}
	return all.summary(AllEndpoints, r.span())
}

// span is the window rates are computed over; r.mu must be held.
func (r *Recorder) span() time.Duration {
	if r.window > 0 {
		return r.window
	}
	return time.Duration(r.seconds) * time.Second
}

func (ep *endpointStats) summary(name string, window time.Duration) EndpointSummary {
	s := EndpointSummary{
		Endpoint:  name,
		Offered:   ep.offered,
		Completed: ep.completed,
		P50:       ep.latency.Quantile(0.50),
		P95:       ep.latency.Quantile(0.95),
		P99:       ep.latency.Quantile(0.99),
		Max:       ep.latency.Max(),
		Service:   quantiles(&ep.service),
		Lag:       quantiles(&ep.lag),
		OK:        quantiles(&ep.okLat),
		Refused:   quantiles(&ep.refusedLat),
		ByStatus:  make(map[int]int64, len(ep.byStatus)),
		Errors:    ep.errors,
		Timeouts:  ep.timeouts,
		Dropped:   ep.dropped,
	}
	for st, n := range ep.byStatus {
		s.ByStatus[st] = n
	}
	if sec := window.Seconds(); sec > 0 {
		s.OfferedRate = float64(ep.offered) / sec
		s.AchievedRate = float64(ep.completed) / sec
		s.Goodput = float64(ep.ok) / sec
	}
	return s
}

func quantiles(h *Histogram) Latency {
	return Latency{P50: h.Quantile(0.50), P95: h.Quantile(0.95), P99: h.Quantile(0.99), Max: h.Max()}
}

// Series is the per-second time series: one row per second per endpoint,
// every second from the start to the last one anything happened in
// (quiet seconds included, as zeros), ordered by second then endpoint.
func (r *Recorder) Series() []Second {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.endpoints))
	for name := range r.endpoints {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]Second, 0, r.seconds*len(names))
	for i := 0; i < r.seconds; i++ {
		for _, name := range names {
			ep := r.endpoints[name]
			row := Second{Offset: time.Duration(i) * time.Second}
			if i < len(ep.seconds) {
				row = ep.seconds[i]
			}
			row.Endpoint = name
			out = append(out, row)
		}
	}
	return out
}
