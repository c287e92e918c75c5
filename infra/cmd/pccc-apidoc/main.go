// Command pccc-apidoc renders the API reference page (make api-reference):
// shared/openapi/openapi.json through the pinned Redocly CLI into
// build/site/docs/api.html and its scripts, which the site's upload puts
// beside web/ and the distribution serves at /docs/api. See infra/apidoc.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/pccc/pccc/infra/apidoc"
)

func main() {
	node := flag.String("node", "", "the pinned Node (make tools)")
	cli := flag.String("cli", "", "@redocly/cli's bin/cli.js (make tools)")
	in := flag.String("in", "shared/openapi/openapi.json", "the OpenAPI document")
	out := flag.String("out", "build/site/docs", "the folder the page goes into")
	flag.Parse()
	if *node == "" || *cli == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: pccc-apidoc -node NODE -cli CLI [-in openapi.json] [-out build/site/docs]")
		os.Exit(2)
	}
	names, err := apidoc.Render(context.Background(), apidoc.Tool{Node: *node, CLI: *cli}, *in, *out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "pccc-apidoc: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%s: %s\n", *out, strings.Join(names, ", "))
}
