package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/keyring"
)

// In AWS the workers are Lambda instances of their own: their garbage
// collection, their scheduler and their connections are not the API's. On
// one shared box a bench runs them in a child process of their own (the
// same binary, started again), polling the queues of the same stack and
// name prefix while this process serves the API. It runs at the same
// priority as this process unless WorkerNice says otherwise: the cores are
// still shared, as they must be here, but nothing in the API's process
// waits on the workers' heap or goroutines. The child is told what to do
// on its standard input, a line at a time ("pause", "resume"), answers
// "ok" on its standard output, and stops when its input closes, so it
// never outlives the bench.

// workerProcessEnv carries a worker process's settings (workerSpec as
// JSON); a bench binary started with it set is a worker process.
const workerProcessEnv = "PCCC_BENCH_WORKER_PROCESS"

// WorkerProcess runs the queue functions in a child process (see above);
// false, the default, runs them in this process beside the API, as
// localrun does for make run. Measured side by side on 2 shared cores, the
// child process does not help: the kernel shares the cores by thread, so
// a worker process with one busy poller gets a smaller share than the
// same goroutines among the API's, the workers all but stop while the
// accept ceiling is measured (147 µs of worker time per accepted call
// against ~700), that ceiling reads 491-570/s instead of 282-434/s, and
// the spike at half of it and the overload at twice it overrun the cores
// (accept p99 100 ms, refusals' p99 63 ms, on a clean clone at bc9c23f).
// The run under faults always keeps the workers here, since it kills
// worker batches from inside.
var WorkerProcess = false

// WorkerNice is the worker process's niceness (0: as this process). At 10
// or 19 the workers gave way to the emulators serving the API as well.
var WorkerNice = 0

// workerSpec is what a worker process needs to join a running system.
type workerSpec struct {
	Template string
	// Stack is the running stack's endpoints (its exported fields); the
	// worker process uses it without owning it.
	Stack      *localstack.Stack
	Env        map[string]string
	MaxPollers int
	KeyRings   map[keyring.Kind]keyring.Ring
}

// ServeWorkersIfAsked makes this process a bench's worker process when it
// was started as one, and exits when that ends; otherwise it returns at
// once. Binaries that start bench systems call it first thing (pccc-bench's
// main, this package's TestMain).
func ServeWorkersIfAsked() {
	raw, ok := os.LookupEnv(workerProcessEnv)
	if !ok {
		return
	}
	if err := serveWorkers(raw, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench worker process:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveWorkers runs the queue functions of the system spec describes until
// in closes.
func serveWorkers(raw string, in io.Reader, out io.Writer) error {
	var spec workerSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		return fmt.Errorf("%s: %w", workerProcessEnv, err)
	}
	// Ctrl-C reaches the whole process group; the bench decides when the
	// workers stop, by closing their input.
	signal.Ignore(os.Interrupt)
	ctx := context.Background()
	pause := newGate()
	run, err := localrun.New(ctx, localrun.Options{
		TemplatePath: spec.Template, Addr: "127.0.0.1:0", Stack: spec.Stack,
		Registry: workerRegistry(pause, nil, nil, nil), MaxPollers: spec.MaxPollers,
		// The API's process fires the schedules.
		NoSchedules: true,
		Getenv:      func(k string) string { return spec.Env[k] },
		// This process's rings: the same as the API's process (a child of
		// the same binary is a new process, so they travel in the spec).
		KeyRings: spec.KeyRings,
		// The runner's own lines (failed batches, receives, deletes) are
		// the bench's to see; the functions' stay at the run's LOG_LEVEL.
		Log: os.Stderr, FunctionLog: os.Stderr,
	})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(out, "ready"); err != nil {
		return err
	}
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		switch lines.Text() {
		case "pause":
			pause.set(true)
		case "resume":
			pause.set(false)
		default:
			fmt.Fprintf(out, "unknown command %q\n", lines.Text())
			continue
		}
		fmt.Fprintln(out, "ok")
	}
	// Input closed: the bench is done with the workers (or gone). Let the
	// batches under way end, as Close does for Lambda.
	pause.set(false)
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return run.Close(cctx)
}

// workerProcess is a running worker process, seen from the bench.
type workerProcess struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	mu     sync.Mutex // one command at a time
	exited chan struct{}
}

// workerPID is the running worker process's, for readCPU (0: none).
var workerPID atomic.Int64

// startWorkerProcess starts this binary again as a worker process and
// waits until its pollers run.
func startWorkerProcess(ctx context.Context, spec workerSpec) (*workerProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), workerProcessEnv+"="+string(raw))
	cmd = localstack.Niced(cmd, WorkerNice)
	// Its lines on this process's stderr, marked as its own.
	cmd.Stderr = &prefixed{prefix: "worker process: ", to: os.Stderr}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	w := &workerProcess{cmd: cmd, in: in, out: bufio.NewReader(outPipe), exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(w.exited) }()
	if err := w.expect(ctx, "ready", time.Minute); err != nil {
		_ = w.stop()
		return nil, fmt.Errorf("worker process did not start: %w", err)
	}
	workerPID.Store(int64(cmd.Process.Pid))
	return w, nil
}

// expect reads the worker's next line and wants it to be want.
func (w *workerProcess) expect(ctx context.Context, want string, limit time.Duration) error {
	got := make(chan error, 1)
	go func() {
		line, err := w.out.ReadString('\n')
		if err == nil && strings.TrimSpace(line) != want {
			err = fmt.Errorf("said %q, want %q", strings.TrimSpace(line), want)
		}
		got <- err
	}()
	select {
	case err := <-got:
		return err
	case <-time.After(limit):
		return fmt.Errorf("no %q within %v", want, limit)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// say gives the worker process a command and waits for its "ok".
func (w *workerProcess) say(command string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := io.WriteString(w.in, command+"\n"); err != nil {
		return fmt.Errorf("worker process: %s: %w", command, err)
	}
	if err := w.expect(context.Background(), "ok", 10*time.Second); err != nil {
		return fmt.Errorf("worker process: %s: %w", command, err)
	}
	return nil
}

// stop closes the worker's input, lets its batches under way end and, if
// it has not exited in 20 s, kills it.
func (w *workerProcess) stop() error {
	workerPID.CompareAndSwap(int64(w.cmd.Process.Pid), 0)
	_ = w.in.Close()
	select {
	case <-w.exited:
	case <-time.After(20 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.exited
		return errors.New("worker process did not stop within 20 s; killed")
	}
	if st := w.cmd.ProcessState; st != nil && !st.Success() {
		return fmt.Errorf("worker process: %s", st)
	}
	return nil
}

// prefixed writes each whole line it is given to to, after prefix.
type prefixed struct {
	prefix string
	to     io.Writer
	rest   []byte // a line not ended yet
}

func (p *prefixed) Write(b []byte) (int, error) {
	p.rest = append(p.rest, b...)
	for {
		i := bytes.IndexByte(p.rest, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := fmt.Fprintf(p.to, "%s%s\n", p.prefix, p.rest[:i]); err != nil {
			return len(b), err
		}
		p.rest = p.rest[i+1:]
	}
}
