// Command codelookup is the lookup function: GET /v1/codes/me.
package main

import (
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("codelookup", codeapi.BuildLookup) }
