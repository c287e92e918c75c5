// Command smscode is the SMS step's send Lambda: POST /v1/verifications/{id}/sms.
package main

import (
	"github.com/pccc/pccc/shared/identityapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("smscode", identityapi.BuildSendCode) }
