// Command smssender is the SMS sender Lambda: takes sealed messages off the outbox queue and sends them.
package main

import (
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/sms"
)

func main() { platform.Main("smssender", sms.BuildSender) }
