// Command codeissue is the issue function: checks and queues POST /v1/codes.
package main

import (
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("codeissue", codeapi.BuildIssue) }
