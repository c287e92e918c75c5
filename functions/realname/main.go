// Command realname is the real-name check Lambda: POST /v1/verifications.
package main

import (
	"github.com/pccc/pccc/shared/identityapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("realname", identityapi.BuildRealName) }
