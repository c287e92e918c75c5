// Command campaignreader reads the authority's campaign lists behind the campaign control queue: prepares a list, fans it out onto the campaign queue chunk by chunk, writes the reports.
package main

import (
	"github.com/pccc/pccc/shared/campaignapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("campaignreader", campaignapi.BuildReader) }
