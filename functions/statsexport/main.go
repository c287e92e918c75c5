// Command statsexport is the daily statistics export: the day before (and
// any missing day of the week before it) to the export bucket.
package main

import (
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/statsapi"
)

func main() { platform.Main("statsexport", statsapi.BuildExport) }
