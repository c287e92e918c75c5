// Package keyadmin is the operator's command for the API keys of brokers
// and shops (infra/cmd/pccc-keys): create a key, revoke one, list them. It
// talks to the table through the real SDK with the operator's own
// credentials; no public route, and no Lambda function, can make or revoke
// a key.
package keyadmin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/pccc/pccc/infra/operator"
	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/dynamo"
)

// Store keeps keys (dynamo.APIKeyStore).
type Store interface {
	Create(ctx context.Context, r apikey.Record) error
	Revoke(ctx context.Context, id string, at time.Time) error
	List(ctx context.Context) ([]apikey.Record, error)
}

var _ Store = (*dynamo.APIKeyStore)(nil)

// Usage is the command's help.
const Usage = `usage: pccc-keys [-table NAME] <command>

  create -owner "ACME Customs" -rate 10 [-role broker|authority]
                                          make a key (rate: checks a minute; role: broker,
                                          the default, or authority for the statistics); prints it once
  revoke <keyId>                          revoke a key at once
  list                                    list keys (no secrets: they are not stored)

The table is -table or $TABLE_NAME; the AWS SDK's usual variables choose the
region, credentials and endpoint (AWS_ENDPOINT_URL_DYNAMODB for a local stack).
`

// Main builds the store from the environment and runs the command in args
// (without the program name).
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	db, table, rest, err := operator.Setup(ctx, "pccc-keys", Usage, args, getenv, stderr)
	if err != nil {
		return err
	}
	return Run(ctx, dynamo.NewAPIKeyStore(db, table), rest, time.Now, stdout, stderr)
}

// Run carries out one command against the store.
func Run(ctx context.Context, st Store, args []string, now func() time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("no command: create, revoke or list")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "create":
		return create(ctx, st, rest, now, stdout, stderr)
	case "revoke":
		if len(rest) != 1 || !apikey.ValidID(rest[0]) {
			return errors.New("usage: revoke <keyId> (16 hex digits, as create and list print it)")
		}
		if err := st.Revoke(ctx, rest[0], now()); err != nil {
			if errors.Is(err, apikey.ErrNoKey) {
				return fmt.Errorf("no key %s", rest[0])
			}
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", rest[0])
		return nil
	case "list":
		if len(rest) != 0 {
			return errors.New("usage: list")
		}
		keys, err := st.List(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(w, "KEY ID\tOWNER\tROLE\tRATE/MIN\tSTATE\tCREATED")
		for _, k := range keys {
			state := "active"
			if k.Revoked {
				state = "revoked " + k.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\n", k.ID, k.Owner, k.Role, k.RatePerMinute, state, k.CreatedAt.UTC().Format(time.RFC3339))
		}
		return w.Flush()
	default:
		return fmt.Errorf("unknown command %q: create, revoke or list", cmd)
	}
}

func create(ctx context.Context, st Store, args []string, now func() time.Time, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	owner := fs.String("owner", "", "the broker or shop the key is for (required)")
	rate := fs.Int("rate", 60, "checks a minute the key may make")
	roleName := fs.String("role", string(apikey.Broker), "broker (checks and declarations) or authority (statistics)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	role, err := apikey.ParseRole(*roleName)
	if err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("create: unexpected arguments %v", fs.Args())
	}
	for {
		key, rec, err := apikey.New(*owner, *rate, now(), nil)
		if err != nil {
			return err
		}
		rec.Role = role
		err = st.Create(ctx, rec)
		if errors.Is(err, apikey.ErrExists) {
			continue // a 64-bit id taken: draw again
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key id: %s\nowner:  %s\nrole:   %s\nrate:   %d checks a minute\nkey:    %s\n", rec.ID, rec.Owner, rec.Role, rec.RatePerMinute, key)
		fmt.Fprintln(stderr, "The key is shown this once and stored only hashed: hand it to its owner now.")
		return nil
	}
}

// loopback reports whether an endpoint URL names this machine.
