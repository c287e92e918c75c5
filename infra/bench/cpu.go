package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// CPU is processor time by process, for where a measurement's time went:
// this process (the API's functions, the runner and the load generator),
// the worker process (the queue functions; see workerproc.go), DynamoDB
// Local (java) and fauxqs (node).
type CPU map[string]time.Duration

// Process names in the report.
const (
	ProcSelf    = "this process"
	ProcWorkers = "worker process"
	ProcJava    = "DynamoDB Local (java)"
	ProcNode    = "fauxqs (node)"
)

// userHZ is Linux's clock tick for /proc times (USER_HZ, 100 on every
// architecture Go supports).
const userHZ = 100

// readCPU sums user+system time of this process, of its worker process
// and of the java and node processes it started (the emulators; others on
// the machine, another stack's, are not this run's). Nil where /proc is
// not there.
func readCPU() CPU {
	paths, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(paths) == 0 {
		return nil
	}
	self := strconv.Itoa(os.Getpid())
	workers := strconv.FormatInt(workerPID.Load(), 10)
	out := CPU{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		line := string(b)
		open, close := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
		if open < 0 || close < open {
			continue
		}
		pid, comm := strings.TrimSpace(line[:open]), line[open+1:close]
		// After the comm: state, ppid, ... utime is the 12th field, stime
		// the 13th.
		f := strings.Fields(line[close+1:])
		if len(f) < 13 {
			continue
		}
		child := f[1] == self
		var name string
		switch {
		case pid == self:
			name = ProcSelf
		case child && pid == workers:
			name = ProcWorkers
		case child && comm == "java":
			name = ProcJava
		case child && (comm == "node" || strings.HasPrefix(comm, "node")):
			name = ProcNode
		default:
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[name] += time.Duration(ut+st) * time.Second / userHZ
	}
	return out
}

// since is the processor time spent from before to now.
func (c CPU) since(before CPU) CPU {
	if c == nil || before == nil {
		return nil
	}
	out := CPU{}
	for k, v := range c {
		out[k] = v - before[k]
	}
	return out
}

// procs are the processes of a CPU reading, in report order.
var procs = []string{ProcSelf, ProcWorkers, ProcJava, ProcNode}

// total is the processor time of every process together.
func (c CPU) total() time.Duration {
	var t time.Duration
	for _, p := range procs {
		t += c[p]
	}
	return t
}
