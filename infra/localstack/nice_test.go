package localstack

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNiced: a command run through Niced has the niceness asked for, and
// without one it runs as it is.
func TestNiced(t *testing.T) {
	nice := func(cmd *exec.Cmd) string {
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		// /proc/self/stat: field 19 is the niceness; the command name
		// (field 2) has no spaces here.
		f := strings.Fields(string(out))
		return f[18]
	}
	base := nice(exec.Command("cat", "/proc/self/stat"))
	if base != "0" {
		t.Fatalf("the test runs at niceness %s; nice adds to it, run it at 0", base)
	}
	if got := nice(Niced(exec.Command("cat", "/proc/self/stat"), 7)); got != "7" {
		t.Fatalf("Niced: %s, want 7", got)
	}
	if got := nice(Niced(exec.Command("cat", "/proc/self/stat"), 0)); got != base {
		t.Fatalf("nice 0 changed the niceness: %s, want %s", got, base)
	}
}
