//go:build !linux

package localstack

import "os/exec"

// The dynamodb-local stack runs on linux/amd64 only (startExternal refuses
// elsewhere); these keep the package building for the embedded stack on
// other systems.

func setProcAttrs(*exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, _ bool) error { return cmd.Process.Kill() }
