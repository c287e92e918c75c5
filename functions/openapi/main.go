// Command openapi serves the API's OpenAPI document: GET /v1/openapi.json.
package main

import (
	"github.com/pccc/pccc/shared/openapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("openapi", openapi.Build) }
