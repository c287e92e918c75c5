// Command authoritystats serves the authority's statistics for a range of
// days (GET /v1/authority/stats), to authority API keys only.
package main

import (
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/statsapi"
)

func main() { platform.Main("authoritystats", statsapi.Build) }
