// Command declarationholder is the holders' declaration function: their
// declarations, confirm, deny and the confirmation setting, with a session.
package main

import (
	"github.com/pccc/pccc/shared/declarationapi"
	"github.com/pccc/pccc/shared/platform"
)

func main() { platform.Main("declarationholder", declarationapi.BuildHolder) }
