// Command pccc-authority is the customs authority's view of codes with
// repeated mismatching clearance checks. See infra/authority and README
// "Notices".
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pccc/pccc/infra/authority"
)

func main() {
	if err := authority.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "pccc-authority: %v\n", err)
		os.Exit(1)
	}
}
