package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// The accept path's shortfall is argued from the run's own figures: its
// processor time against SendMessage's, and the floor its three calls set.
func TestAcceptShortfallFromTheRunsFigures(t *testing.T) {
	rate := func(name string, ok int64, self, java, node time.Duration) Rate {
		return Rate{Name: name, OK: ok, CPU: CPU{ProcSelf: self, ProcJava: java, ProcNode: node}}
	}
	c := Ceilings{
		SendMessage: rate("send", 1000, 500*time.Millisecond, 0, 250*time.Millisecond),                   // 750 µs a call
		GetItem:     rate("get", 1000, 400*time.Millisecond, 800*time.Millisecond, 0),                    // 1200 µs
		AcceptAlone: rate("alone", 100, 200*time.Millisecond, 250*time.Millisecond, 50*time.Millisecond), // 5000 µs
	}
	var b bytes.Buffer
	writeAcceptShortfall(&b, c)
	out := b.String()
	for _, want := range []string{"5000 µs in all against 750 µs", "(6.7×)", "the read 1200 µs", "the send 750 µs", "come to 3150 µs", "at most 0.24 of raw SendMessage"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	// Without processor figures there is nothing to argue from.
	b.Reset()
	writeAcceptShortfall(&b, Ceilings{})
	if b.Len() != 0 {
		t.Errorf("wrote %q without figures", b.String())
	}
}
