// Command codereissue is the reissue function: checks and queues POST /v1/codes/me/reissue.
package main

import (
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("codereissue", codeapi.BuildReissue) }
