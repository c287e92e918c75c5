// Command campaignworker carries out the authority's campaign items behind the campaign queue, each through the rules and the transaction of a holder's own command.
package main

import (
	"github.com/pccc/pccc/shared/campaignapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("campaignworker", campaignapi.BuildWorker) }
