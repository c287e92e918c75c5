// Command declarationfile is the brokers' declaration function:
// POST /v1/declarations and GET /v1/declarations/{id}, with an API key.
package main

import (
	"github.com/pccc/pccc/shared/declarationapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("declarationfile", declarationapi.BuildBroker) }
