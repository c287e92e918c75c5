// Package bench measures the system the way make bench reports it: the
// ceilings of what it is built on (the emulator's raw SendMessage, a
// trivial HTTP handler on loopback), the system's own accept and lookup
// paths, and the SDK calls each of them makes, made raw with the same
// inputs, measured side by side in one run so every figure is a ratio
// that holds on a noisy machine.
package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Rate is the outcome of a closed-loop measurement: how many operations a
// fixed number of workers completed, and how long they took.
type Rate struct {
	Name      string
	Workers   int
	Duration  time.Duration
	OK, Fails int64
	PerSecond float64
	P50, P99  time.Duration
	FirstFail string // the first failure's error, for the report
	// CPU is the processor time each process spent while measuring.
	CPU CPU
}

// minCompleted is the fewest calls a measurement completes: on a slow or
// busy machine it runs past d until they are in (up to maxMeasure), so a
// rate is always a measured one, never a zero from a window too short.
const (
	minCompleted = 20
	maxMeasure   = 2 * time.Minute
)

// ClosedLoop runs op from workers goroutines, each starting its next call
// when the last one ends, for d (and at least minCompleted calls), after a
// warm-up of warm; it reports the completed rate and latencies. Closed
// loop is right for a ceiling (how fast can it go); the spike run is open
// loop.
func ClosedLoop(ctx context.Context, name string, workers int, warm, d time.Duration, op func(ctx context.Context, worker, i int) error) Rate {
	r, _ := closedLoop(ctx, name, "", workers, warm, d, op)
	return r
}

// Op is a named operation to measure.
type Op struct {
	Name string
	Do   func(ctx context.Context, worker, i int) error
}

// alternateRounds are the turns Alternate gives each operation: ten of
// a second each in make bench (turns of two seconds, five each, left the
// accept path's ratio to its raw calls between 1.14 and 1.27 in runs a few
// minutes apart).
const alternateRounds = 10

// Alternate measures ops side by side: in alternateRounds rounds, each op
// in turn runs closed loop for d/rounds after a warm-up of warm/rounds, so
// a noisy machine's busy moments, and an emulator's code still warming
// up, fall on all of them alike. Each Rate sums its op's turns.
func Alternate(ctx context.Context, workers int, warm, d time.Duration, ops ...Op) []Rate {
	out := make([]Rate, len(ops))
	lats := make([][]time.Duration, len(ops))
	for round := range alternateRounds {
		for k, op := range ops {
			r, lat := closedLoop(ctx, op.Name, fmt.Sprintf("-%d", round+1), workers, warm/alternateRounds, d/alternateRounds, op.Do)
			out[k] = out[k].add(r)
			lats[k] = append(lats[k], lat...)
		}
	}
	for k := range out {
		out[k].P50, out[k].P99 = Percentile(lats[k], 0.50), Percentile(lats[k], 0.99)
	}
	return out
}

// add sums two turns of one measurement (latencies apart).
func (r Rate) add(t Rate) Rate {
	if r.Name == "" {
		r.Name, r.Workers = t.Name, t.Workers
	}
	r.Duration += t.Duration
	r.OK += t.OK
	r.Fails += t.Fails
	if r.FirstFail == "" {
		r.FirstFail = t.FirstFail
	}
	if t.CPU != nil {
		if r.CPU == nil {
			r.CPU = CPU{}
		}
		for k, v := range t.CPU {
			r.CPU[k] += v
		}
	}
	if r.Duration > 0 {
		r.PerSecond = float64(r.OK) / r.Duration.Seconds()
	}
	return r
}

// closedLoop is ClosedLoop, returning the latencies too; suffix names its
// turn's profile.
func closedLoop(ctx context.Context, name, suffix string, workers int, warm, d time.Duration, op func(ctx context.Context, worker, i int) error) (Rate, []time.Duration) {
	var ok, fails atomic.Int64
	var firstFail atomic.Value
	var measuring atomic.Bool
	stop := make(chan struct{})
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				err := op(ctx, w, i)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					fails.Add(1)
					firstFail.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
				lat[w] = append(lat[w], time.Since(start))
			}
		}()
	}
	time.Sleep(warm)
	stopProfile := startProfile(name + suffix)
	measuring.Store(true)
	cpu0 := readCPU()
	begin := time.Now()
	time.Sleep(d)
	for ok.Load()+fails.Load() < minCompleted && time.Since(begin) < maxMeasure {
		time.Sleep(10 * time.Millisecond)
	}
	measuring.Store(false)
	elapsed := time.Since(begin)
	cpu := readCPU().since(cpu0)
	stopProfile()
	close(stop)
	wg.Wait()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	r := Rate{Name: name, Workers: workers, Duration: elapsed, OK: ok.Load(), Fails: fails.Load()}
	r.PerSecond = float64(r.OK) / elapsed.Seconds()
	r.FirstFail, _ = firstFail.Load().(string)
	r.CPU = cpu
	r.P50, r.P99 = Percentile(all, 0.50), Percentile(all, 0.99)
	return r, all
}

// Percentile of a sample (sorted in place); 0 for none.
func Percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	i := int(q*float64(len(d)-1) + 0.5)
	return d[min(i, len(d)-1)]
}

// ProfileDir, when set (pccc-bench -profile-dir), receives a CPU profile
// of this process for each closed-loop measurement, while it is measured:
// <dir>/<measurement>.pprof.
var ProfileDir string

// startProfile starts the CPU profile of a measurement and returns what
// stops it; nothing when ProfileDir is not set or a profile cannot start.
func startProfile(name string) func() {
	if ProfileDir == "" {
		return func() {}
	}
	slug := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
	f, err := os.Create(filepath.Join(ProfileDir, slug+".pprof"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "profile:", err)
		_ = f.Close()
		return func() {}
	}
	// And what was allocated meanwhile: the allocations profile before
	// and after (go tool pprof -sample_index=alloc_space -diff_base).
	writeAllocs := func(suffix string) {
		if a, err := os.Create(filepath.Join(ProfileDir, slug+suffix+".pprof")); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(a, 0)
			_ = a.Close()
		}
	}
	writeAllocs(".allocs0")
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
		writeAllocs(".allocs1")
	}
}
