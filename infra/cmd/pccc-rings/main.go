// Command pccc-rings is the operator's tool for the functions' key rings
// (shared/keyring) in a deployed stack: it finds the keys bucket and the
// KMS key from the stack's outputs and
//
//	pccc-rings -stack pccc-prod init           writes every ring that is missing (a fresh key each); run by make deploy
//	pccc-rings -stack pccc-prod rotate <kind>  adds a fresh key to a ring and makes it the active one
//
// After rotating the origin ring it prints the new header value, which
// make rotate-origin writes to the edge's key value store. Key material is
// never printed otherwise.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"

	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/keyring"
)

func main() {
	stack := flag.String("stack", "", "the deployed stack (pccc-dev, pccc-prod)")
	flag.Parse()
	if err := run(context.Background(), *stack, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "pccc-rings: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, stack string, args []string) error {
	if stack == "" || len(args) == 0 {
		return errors.New("usage: pccc-rings -stack NAME init | rotate hmac|data|session|origin")
	}
	c, err := awsclient.New(ctx, awsclient.Options{Region: os.Getenv("AWS_REGION")})
	if err != nil {
		return err
	}
	out, err := cloudformation.NewFromConfig(c.AWS).DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stack)})
	if err != nil || len(out.Stacks) == 0 {
		return fmt.Errorf("stack %s: %v", stack, err)
	}
	outputs := map[string]string{}
	for _, o := range out.Stacks[0].Outputs {
		outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	st := &keyring.Store{S3: c.S3, KMS: c.KMS, Bucket: outputs["KeysBucketName"], KeyID: outputs["KeysKeyArn"]}
	if st.Bucket == "" || st.KeyID == "" {
		return fmt.Errorf("stack %s has no KeysBucketName or KeysKeyArn output", stack)
	}
	switch args[0] {
	case "init":
		for _, k := range keyring.Kinds {
			if _, err := st.Fetch(ctx, k); err == nil {
				fmt.Printf("%s: present\n", k)
				continue
			} else if !strings.Contains(err.Error(), "NoSuchKey") {
				return fmt.Errorf("%s: %w", k, err)
			}
			ring := keyring.NewRing(newID(k))
			if err := st.Put(ctx, k, ring); err != nil {
				return err
			}
			fmt.Printf("%s: written, key %s\n", k, ring.Active)
		}
		return nil
	case "rotate":
		if len(args) != 2 {
			return errors.New("rotate takes one kind")
		}
		kinds, err := keyring.ParseKinds(args[1])
		if err != nil || len(kinds) != 1 {
			return fmt.Errorf("rotate: %q is not one kind", args[1])
		}
		k := kinds[0]
		if k == keyring.HMAC {
			return errors.New("rotate: the hmac key names every holder (their keys are hashes under it); it is not rotated by adding a key")
		}
		ring, err := st.Fetch(ctx, k)
		if err != nil {
			return err
		}
		id := newID(k)
		if k == keyring.Origin {
			// The origin ring keeps the current value and the one before
			// it: the edge may still send the old one for a moment.
			ring.Keys = map[string][]byte{ring.Active: ring.Keys[ring.Active]}
		}
		ring.Keys[id], ring.Active = keyring.NewKey(), id
		if err := st.Put(ctx, k, ring); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s: key %s added and active (%d keys in the ring)\n", k, id, len(ring.Keys))
		if k == keyring.Origin {
			fmt.Println(keyring.OriginValue(ring.Keys[id]))
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", args[0])
}

// newID is a key id that says when it was made: <kind-letter><UTC time>.
func newID(k keyring.Kind) string {
	return string(k)[:1] + time.Now().UTC().Format("20060102T150405")
}
