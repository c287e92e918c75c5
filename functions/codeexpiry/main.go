// Command codeexpiry is the daily expiry job: queues expire and lapse commands for holders due.
package main

import (
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("codeexpiry", codeapi.BuildExpiry) }
