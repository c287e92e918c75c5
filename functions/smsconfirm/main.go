// Command smsconfirm is the SMS step's confirm Lambda: POST /v1/verifications/{id}/confirm, which yields a holder session token.
package main

import (
	"github.com/pccc/pccc/shared/identityapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("smsconfirm", identityapi.BuildConfirmCode) }
