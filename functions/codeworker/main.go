// Command codeworker is the command worker: carries out queued commands.
package main

import (
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("codeworker", codeapi.BuildWorker) }
