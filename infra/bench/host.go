package bench

import (
	"os"
	"strconv"
	"strings"
)

// HostTime is the machine's processor time in clock ticks, all cores
// together, from the first line of /proc/stat: what the guest ran (busy),
// what it left idle, and what the hypervisor gave to other guests while
// this one wanted to run (steal). On a shared machine a run's tail follows
// the steal as much as the code: each spike run reports it.
type HostTime struct {
	Busy, Idle, Steal int64
}

// readHostTime reads the machine's ticks; zero where /proc/stat is not.
func readHostTime() HostTime {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return HostTime{}
	}
	return parseHostTime(string(b))
}

// parseHostTime reads the "cpu" line: user nice system idle iowait irq
// softirq steal (guest time is inside user and nice already).
func parseHostTime(stat string) HostTime {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return HostTime{}
	}
	var v [8]int64
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return HostTime{}
		}
		v[i] = n
	}
	return HostTime{Busy: v[0] + v[1] + v[2] + v[5] + v[6], Idle: v[3] + v[4], Steal: v[7]}
}

// StealShare is the share of the machine's time between a and b that the
// hypervisor took for other guests (0 when nothing was read).
func StealShare(a, b HostTime) float64 { return share(a, b, b.Steal-a.Steal) }

// BusyShare is the share of the machine's time between a and b that this
// guest's processes ran (0 when nothing was read): near 1, every call
// waits for a core.
func BusyShare(a, b HostTime) float64 { return share(a, b, b.Busy-a.Busy) }

// share is part of the ticks between a and b (0 when none passed).
func share(a, b HostTime, part int64) float64 {
	total := (b.Busy - a.Busy) + (b.Idle - a.Idle) + (b.Steal - a.Steal)
	if total <= 0 {
		return 0
	}
	return float64(part) / float64(total)
}
