// Command clearancecheck is the clearance check function:
// POST /v1/clearance/checks, for brokers and shops with an API key.
package main

import (
	"github.com/pccc/pccc/shared/clearanceapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("clearancecheck", clearanceapi.BuildCheck) }
