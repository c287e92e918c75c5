// Command pccc-keys is the operator's tool for brokers' and shops' API
// keys: create, revoke, list. See infra/keyadmin and README "Clearance
// checks".
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pccc/pccc/infra/keyadmin"
)

func main() {
	if err := keyadmin.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "pccc-keys: %v\n", err)
		os.Exit(1)
	}
}
