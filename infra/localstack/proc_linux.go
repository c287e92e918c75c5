package localstack

import (
	"os/exec"
	"syscall"
)

// setProcAttrs puts the child in a process group of its own, so stop can
// signal everything it started, and asks the kernel to kill it if this
// process dies without Close (a test binary killed by -timeout, Ctrl-C on
// `make run`), so no emulator outlives its owner holding a port. (The
// kernel ties Pdeathsig to the forking thread; Go only retires threads of
// goroutines that exit while locked to them, which this package never does.)
func setProcAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends SIGTERM (or SIGKILL when force) to the child's group.
func signalGroup(cmd *exec.Cmd, force bool) error {
	sig := syscall.SIGTERM
	if force {
		sig = syscall.SIGKILL
	}
	return syscall.Kill(-cmd.Process.Pid, sig)
}
