package bench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/localstack"
)

// TestWorkerProcess: with WorkerProcess, a bench system runs its queue
// functions in a child process at WorkerNice, and only there: with that process paused a
// command stays pending, resumed it succeeds, its processor time is
// counted as the worker process's; after Redeploy a new one takes over,
// and Close leaves none running.
func TestWorkerProcess(t *testing.T) {
	WorkerProcess = true
	t.Cleanup(func() { WorkerProcess = false })
	wd, _ := os.Getwd()
	tpl := filepath.Join(wd, "..", "..", "template.yaml")
	ctx := context.Background()
	s, err := Start(ctx, tpl, localstack.Embedded, map[string]string{"ADMIT_MAX_RATE": "1000000", "REISSUES_PER_YEAR": "366"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.workers == nil || workerPID.Load() != int64(s.workers.cmd.Process.Pid) {
		t.Fatalf("no worker process (%v, pid %d)", s.workers, workerPID.Load())
	}
	first := s.workers.cmd.Process.Pid
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(first) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// Field 19 is the niceness; after the command name's closing paren.
	f := strings.Fields(string(stat)[strings.LastIndexByte(string(stat), ')')+1:])
	if f[16] != strconv.Itoa(WorkerNice) {
		t.Errorf("worker process at niceness %s, want %d", f[16], WorkerNice)
	}

	if err := s.PauseWorkers(); err != nil {
		t.Fatal(err)
	}
	tok := s.Token("wp-0")
	a, err := s.Call(ctx, "POST", "/v1/codes", tok, "wp-issue", IssueBody(0))
	if err != nil || a.Status != 202 {
		t.Fatalf("issue: %v %+v", err, a)
	}
	id := a.Body["requestId"].(string)
	// This process polls no queue: with the worker process held, the
	// command waits.
	if err := s.waitFinished(ctx, tok, id, 1500*time.Millisecond); err == nil {
		t.Fatal("the command finished while the worker process was paused")
	}
	before := readCPU()
	if err := s.ResumeWorkers(); err != nil {
		t.Fatal(err)
	}
	if err := s.waitFinished(ctx, tok, id, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	// Keep the worker process busy long enough for /proc's clock ticks.
	for i := 1; i <= 20; i++ {
		a, err := s.Call(ctx, "POST", "/v1/codes/me/reissue", tok, "wp-reissue-"+strconv.Itoa(i), `{"reason":"leak_concern"}`)
		if err != nil || a.Status != 202 {
			t.Fatalf("reissue %d: %v %+v", i, err, a)
		}
		if err := s.waitFinished(ctx, tok, a.Body["requestId"].(string), 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if d := readCPU().since(before); d[ProcWorkers] <= 0 {
		t.Errorf("the worker process's time was not counted: %v", d)
	}

	if err := s.Redeploy(ctx, map[string]string{"ADMIT_MAX_RATE": "1000000", "REISSUES_PER_YEAR": "366"}); err != nil {
		t.Fatal(err)
	}
	if s.workers == nil || s.workers.cmd.Process.Pid == first {
		t.Fatal("Redeploy kept the old worker process")
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(first)); err == nil {
		t.Error("the first worker process still runs after Redeploy")
	}
	a, err = s.Call(ctx, "POST", "/v1/codes/me/reissue", tok, "wp-after", `{"reason":"lost"}`)
	if err != nil || a.Status != 202 {
		t.Fatalf("reissue after Redeploy: %v %+v", err, a)
	}
	if err := s.waitFinished(ctx, tok, a.Body["requestId"].(string), 20*time.Second); err != nil {
		t.Fatal(err)
	}
	second := s.workers.cmd.Process.Pid
	s.Close()
	if _, err := os.Stat("/proc/" + strconv.Itoa(second)); err == nil {
		t.Error("the worker process still runs after Close")
	}
	if workerPID.Load() != 0 {
		t.Error("readCPU still looks for a worker process after Close")
	}
}
