// Command holderchecks is the holder's list of clearance checks made
// against their codes: GET /v1/clearance/checks.
package main

import (
	"github.com/pccc/pccc/shared/clearanceapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("holderchecks", clearanceapi.BuildHolderChecks) }
