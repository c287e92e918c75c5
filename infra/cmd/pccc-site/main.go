// Command pccc-site uploads the web page (web/) to the deployed site bucket
// and invalidates the distribution: the deploy step of the site, run by
// make deploy after sam deploy. See infra/site and README "The site and the
// edge".
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/pccc/pccc/infra/site"
)

func main() {
	if err := site.Main(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "pccc-site: %v\n", err)
		os.Exit(1)
	}
}
