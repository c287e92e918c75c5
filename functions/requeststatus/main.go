// Command requeststatus is the request status function: GET /v1/requests/{requestId}.
package main

import (
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("requeststatus", codeapi.BuildRequestStatus) }
