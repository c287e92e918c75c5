// Package operator is what the operator commands (pccc-keys,
// pccc-authority) share: the -table flag and a DynamoDB client for the
// account's table or, when AWS_ENDPOINT_URL_DYNAMODB points at this
// machine, for a local stack (make run).
package operator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pccc/pccc/shared/awsclient"
)

// Setup parses the common flags of the command name (its usage text
// printed on -h or a bad flag) and returns the client, the table and the
// arguments left: the command and its own flags.
func Setup(ctx context.Context, name, usage string, args []string, getenv func(string) string, stderr io.Writer) (*dynamodb.Client, string, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	table := fs.String("table", getenv("TABLE_NAME"), "the DynamoDB table")
	if err := fs.Parse(args); err != nil {
		return nil, "", nil, err
	}
	if *table == "" {
		return nil, "", nil, errors.New("no table: set -table or TABLE_NAME")
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return nil, "", nil, errors.New("no command")
	}
	opts := awsclient.Options{Region: getenv("AWS_REGION")}
	if ep := getenv("AWS_ENDPOINT_URL_DYNAMODB"); Loopback(ep) {
		// A local stack (make run): the SDK finds the endpoint in the
		// variable itself, but only awsclient's local options also turn off
		// the response checksums the emulators do not send and supply
		// dummy credentials.
		opts.DynamoDBEndpoint = ep
	}
	c, err := awsclient.New(ctx, opts)
	if err != nil {
		return nil, "", nil, err
	}
	return c.DynamoDB, *table, fs.Args(), nil
}

// Loopback says whether endpoint is on this machine.
func Loopback(endpoint string) bool { return awsclient.Loopback(endpoint) }
