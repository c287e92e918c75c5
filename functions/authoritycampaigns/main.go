// Command authoritycampaigns serves the customs authority's campaign routes (POST /v1/authority/campaigns and the routes of one campaign), to authority API keys only.
package main

import (
	"github.com/pccc/pccc/shared/campaignapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("authoritycampaigns", campaignapi.BuildAPI) }
