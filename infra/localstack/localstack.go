// Package localstack owns the local AWS stacks that the local runner
// (`make run`) and the integration tests run against: DynamoDB, SQS and S3
// speaking the real wire protocols on 127.0.0.1, so code under test uses the
// real SDK clients, only with other endpoints.
//
// Two kinds exist:
//
//   - Embedded: in-process servers (minidyn for DynamoDB, goaws for SQS,
//     gofakes3 for S3). Needs nothing but Go; starts in milliseconds.
//   - DynamoDBLocal: child processes, AWS's DynamoDB Local (Java) and fauxqs
//     (SQS + S3, Node 22), installed pinned by infra/tools/install.sh. Slower
//     to start, closer to the real services.
//
// Each emulator has gaps; the ones that matter are handled here (see the
// comments in embedded.go, dynamoshim.go and external.go) so callers can
// treat both kinds alike.
package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/pccc/pccc/shared/awsclient"
)

// Kind names a local stack.
type Kind string

const (
	// Embedded runs minidyn, goaws and gofakes3 inside the process.
	Embedded Kind = "embedded"
	// DynamoDBLocal runs DynamoDB Local and fauxqs as child processes.
	DynamoDBLocal Kind = "dynamodb-local"
)

// DefaultRegion is the region the stacks use when Options.Region is empty:
// the one pccc is deployed to.
const DefaultRegion = "ap-northeast-2"

// TestStacksEnv names the environment variable listing the kinds the
// integration tests run against (comma separated).
const TestStacksEnv = "PCCC_TEST_STACKS"

// ToolsDirEnv names the environment variable that overrides where
// infra/tools/install.sh put the emulators.
const ToolsDirEnv = "PCCC_TOOLS_DIR"

// JavaOptsEnv names extra JVM options for DynamoDB Local (space-separated),
// e.g. GC settings or -Xlog:gc for a run that looks into its pauses.
const JavaOptsEnv = "PCCC_DYNAMODB_JAVA_OPTS"

// Options tune a stack; the zero value is ready to use.
type Options struct {
	// ToolsDir holds the installed emulators (DynamoDBLocal only). Default:
	// $PCCC_TOOLS_DIR, else <repo root>/.cache/tools.
	ToolsDir string
	// Log receives the emulators' own output; nil discards it. Lines are
	// prefixed with the emulator's name.
	Log io.Writer
	// Region of the clients and of the ARNs the emulators hand out; default
	// DefaultRegion.
	Region string
	// Nice, when above 0, runs the emulator processes (DynamoDBLocal only)
	// at that niceness. make bench uses it: in AWS, DynamoDB and SQS are
	// other machines, so on one shared box they should not starve the
	// load generator's clock or the functions' own work.
	Nice int
}

// Stack is a running local stack. Its endpoints are http://127.0.0.1:port
// URLs for the SDK's BaseEndpoint (or AWS_ENDPOINT_URL_*; see Env).
type Stack struct {
	Kind             Kind
	Region           string
	DynamoDBEndpoint string
	SQSEndpoint      string
	S3Endpoint       string
	// KMSEndpoint is local-kms, in this process for both kinds (kms.go).
	KMSEndpoint string

	// closers run in reverse order on Close.
	closers   []func() error
	closeOnce sync.Once
	closeErr  error
}

// ParseKind checks a stack name as given on a command line or in
// PCCC_TEST_STACKS.
func ParseKind(s string) (Kind, error) {
	switch k := Kind(strings.TrimSpace(s)); k {
	case Embedded, DynamoDBLocal:
		return k, nil
	default:
		return "", fmt.Errorf("unknown local stack %q: want %q or %q", s, Embedded, DynamoDBLocal)
	}
}

// Start starts a stack of the given kind and returns once every service
// answers. On error nothing is left running. The caller must Close the
// stack.
func Start(ctx context.Context, kind Kind, o Options) (*Stack, error) {
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	s := &Stack{Kind: kind, Region: o.Region}
	var err error
	switch kind {
	case Embedded:
		err = s.startEmbedded(o)
	case DynamoDBLocal:
		err = s.startExternal(ctx, o)
	default:
		_, err = ParseKind(string(kind))
	}
	if err == nil {
		err = s.startKMS(o)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("start %s stack: %w", kind, err), s.Close())
	}
	return s, nil
}

// Close stops the stack's servers or processes. It is safe to call more
// than once.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		for i := len(s.closers) - 1; i >= 0; i-- {
			errs = append(errs, s.closers[i]())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// onClose registers cleanup work for Close.
func (s *Stack) onClose(f func() error) { s.closers = append(s.closers, f) }

// Clients builds the project's SDK clients pointed at the stack.
func (s *Stack) Clients(ctx context.Context) (*awsclient.Clients, error) {
	return awsclient.New(ctx, awsclient.Options{
		Region:           s.Region,
		DynamoDBEndpoint: s.DynamoDBEndpoint,
		SQSEndpoint:      s.SQSEndpoint,
		S3Endpoint:       s.S3Endpoint,
		KMSEndpoint:      s.KMSEndpoint,
	})
}

// S3 builds an S3 client pointed at the stack (awsclient's local S3
// options: path-style, checksums only where required).
func (s *Stack) S3(ctx context.Context) (*s3.Client, error) {
	c, err := s.Clients(ctx)
	if err != nil {
		return nil, err
	}
	return c.S3, nil
}

// Env is the stack as environment variables, in the SDK's own names, for a
// process that builds its clients from the environment.
func (s *Stack) Env() []string {
	return []string{
		"AWS_REGION=" + s.Region,
		"AWS_ACCESS_KEY_ID=local",
		"AWS_SECRET_ACCESS_KEY=local",
		"AWS_ENDPOINT_URL_DYNAMODB=" + s.DynamoDBEndpoint,
		"AWS_ENDPOINT_URL_SQS=" + s.SQSEndpoint,
		"AWS_ENDPOINT_URL_S3=" + s.S3Endpoint,
		"AWS_ENDPOINT_URL_KMS=" + s.KMSEndpoint,
	}
}

// TestKinds lists the stacks the integration tests should run against:
// PCCC_TEST_STACKS (comma separated), by default just Embedded so a plain
// `go test ./...` needs no installed tools.
func TestKinds() ([]Kind, error) {
	return parseKinds(os.Getenv(TestStacksEnv))
}

func parseKinds(list string) ([]Kind, error) {
	if strings.TrimSpace(list) == "" {
		return []Kind{Embedded}, nil
	}
	var kinds []Kind
	seen := map[Kind]bool{}
	for _, part := range strings.Split(list, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, err := ParseKind(part)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", TestStacksEnv, err)
		}
		if !seen[k] {
			seen[k] = true
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return nil, fmt.Errorf("%s=%q names no stack", TestStacksEnv, list)
	}
	return kinds, nil
}
