// Command smssender is the SMS sender Lambda: takes sealed messages off the outbox queue and sends them.
package main

import (
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/smsapi"
)

func main() { platform.Main("smssender", smsapi.BuildSender) }
