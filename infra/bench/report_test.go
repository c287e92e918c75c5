package bench

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

func fairRate(name string, ok int64, perSecond float64, self, java, node time.Duration) Rate {
	return Rate{Name: name, OK: ok, PerSecond: perSecond, CPU: CPU{ProcSelf: self, ProcJava: java, ProcNode: node}}
}

// The fair ratios hold each path against its own calls made raw: this
// process's processor time per call (not all processes', not another
// call's), and the lookup's rate against the same GetItem's.
func TestFairRatios(t *testing.T) {
	c := Ceilings{
		TrivialHTTP: fairRate("http", 1000, 10000, 100*time.Millisecond, 0, 0),
		SendMessage: fairRate("send", 1000, 3000, 100*time.Millisecond, 0, 0),
		AcceptCalls: fairRate("calls", 1000, 1000, 600*time.Millisecond, 900*time.Millisecond, 200*time.Millisecond), // 600 µs here
		AcceptAlone: fairRate("alone", 500, 400, 345*time.Millisecond, 500*time.Millisecond, 100*time.Millisecond),   // 690 µs here
		GetItem:     fairRate("get", 2000, 2000, 400*time.Millisecond, 800*time.Millisecond, 0),                      // 200 µs
		Lookup:      fairRate("lookup", 1000, 1790, 300*time.Millisecond, 400*time.Millisecond, 0),                   // 300 µs
	}
	f := FairRatios(c)
	if f.AcceptCPU != 690*time.Microsecond || f.CallsCPU != 600*time.Microsecond {
		t.Errorf("accept %v, calls %v", f.AcceptCPU, f.CallsCPU)
	}
	if d := f.AcceptCPURatio - 1.15; d > 1e-9 || d < -1e-9 || !f.AcceptCPUMet() {
		t.Errorf("accept ratio %v (met %v), want 1.15, met", f.AcceptCPURatio, f.AcceptCPUMet())
	}
	if f.LookupCPURatio != 1.5 || f.LookupRate != 0.895 || f.LookupMet() {
		t.Errorf("lookup cpu %v rate %v (met %v), want 1.5, 0.895, not met", f.LookupCPURatio, f.LookupRate, f.LookupMet())
	}
	if f.AcceptRate != 0.4 {
		t.Errorf("accept rate ratio %v", f.AcceptRate)
	}
	// A little more processor time misses the target; so does none read.
	c.AcceptAlone.CPU[ProcSelf] = 346 * time.Millisecond
	if FairRatios(c).AcceptCPUMet() {
		t.Error("1.153 met ≤ 1.15")
	}
	if (Fair{}).AcceptCPUMet() {
		t.Error("no figures met the target")
	}
	c.Lookup.PerSecond = 1800
	if !FairRatios(c).LookupMet() {
		t.Error("0.90 missed ≥ 0.90")
	}
	var b bytes.Buffer
	WriteCeilings(&b, c)
	out := b.String()
	for _, want := range []string{
		"its calls made raw (692 µs / 600 µs) | 1.15 | ≤ 1.15 | no |",
		"| lookup / the same GetItem on the same items (rate) | 0.90 | ≥ 0.90 | yes |",
		"the same GetItem's (300 µs / 200 µs) | 1.50 |",
		"spent 692 µs per accepted command against 600 µs for its three calls made raw: 1.15×",
		"In all processes (the emulators included) a command cost 1892 µs against 1700 µs",
		"The paths are measured over loopback HTTP",
		"92 µs beyond the calls.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// With the calls measured behind a trivial handler, the hop is theirs.
	c.AcceptCallsHTTP = fairRate("hop", 1000, 900, 650*time.Millisecond, 0, 0)
	b.Reset()
	WriteCeilings(&b, c)
	for _, want := range []string{
		"| over loopback HTTP: accept path, workers paused / its calls made raw behind a trivial handler (692 µs / 650 µs) | 1.06 |",
		"cost this process 692 µs against 650 µs for the same calls behind a trivial handler on the same hop (1.06×): the hop alone, client and server, is 50 µs.",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
	// Measured in-process too, those are the paths the targets hold: the
	// over-HTTP figures stay beside them.
	c.AcceptDirect = fairRate("accept direct", 1000, 900, 650*time.Millisecond, 0, 0) // 650 µs
	c.LookupDirect = fairRate("lookup direct", 1000, 1900, 230*time.Millisecond, 0, 0)
	f = FairRatios(c)
	if f.AcceptCPU != 650*time.Microsecond || f.HTTPAcceptCPU != 692*time.Microsecond || f.LookupRate != 0.95 || f.LookupCPU != 230*time.Microsecond {
		t.Errorf("in-process: accept %v (over HTTP %v), lookup rate %v cpu %v", f.AcceptCPU, f.HTTPAcceptCPU, f.LookupRate, f.LookupCPU)
	}
	b.Reset()
	WriteCeilings(&b, c)
	for _, want := range []string{
		"| accept direct | 0 | 1000 | 900 |",
		"its calls made raw (650 µs / 600 µs) | 1.08 | ≤ 1.15 | yes |",
		"| lookup / the same GetItem on the same items (rate) | 0.95 | ≥ 0.90 | yes |",
		"| over loopback HTTP: lookup / the same GetItem (rate) | 0.90 |",
		"| over loopback HTTP: accept path, workers paused / its calls made raw (692 µs / 600 µs) | 1.15 |",
		"The paths are measured as the Lambda runtime calls them",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q in:\n%s", want, b.String())
		}
	}
	// Without processor figures there is nothing to argue from.
	b.Reset()
	writeAcceptShortfall(&b, Ceilings{})
	if b.Len() != 0 {
		t.Errorf("wrote %q without figures", b.String())
	}
}

// Alternate gives each operation its turns and sums them: every call
// counted once under its own name, the rate over its own turns' time.
func TestAlternate(t *testing.T) {
	var order []string
	var mu sync.Mutex
	op := func(name string, pause time.Duration) Op {
		return Op{Name: name, Do: func(ctx context.Context, _, _ int) error {
			mu.Lock()
			if len(order) == 0 || order[len(order)-1] != name {
				order = append(order, name)
			}
			mu.Unlock()
			time.Sleep(pause)
			return nil
		}}
	}
	rs := Alternate(context.Background(), 2, 50*time.Millisecond, 250*time.Millisecond, op("a", time.Millisecond), op("b", 2*time.Millisecond))
	if len(rs) != 2 || rs[0].Name != "a" || rs[1].Name != "b" {
		t.Fatalf("rates %+v", rs)
	}
	for _, r := range rs {
		if r.OK < alternateRounds*minCompleted || r.Fails != 0 || r.Duration < 250*time.Millisecond || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("%s: %+v", r.Name, r)
		}
		if got := float64(r.OK) / r.Duration.Seconds(); got != r.PerSecond {
			t.Errorf("%s: rate %v, want %v", r.Name, r.PerSecond, got)
		}
	}
	if rs[0].PerSecond <= rs[1].PerSecond {
		t.Errorf("the faster op's rate %v is not above the slower's %v", rs[0].PerSecond, rs[1].PerSecond)
	}
	// Turn about: a, b, a, b, ... (each turn's warm-up runs its own op).
	if len(order) != 2*alternateRounds {
		t.Errorf("turns %v", order)
	}
}
