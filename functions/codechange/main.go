// Command codechange is the change function: suspend, resume, cancel, renew and update, checked and queued.
package main

import (
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("codechange", codeapi.BuildChange) }
