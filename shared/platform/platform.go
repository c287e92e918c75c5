// Package platform is what every Lambda's main and the local runner share:
// the dependencies a function is built from (Deps), the signature that builds
// it (Builder), and Main, which wires a function for the Lambda runtime.
//
// A function is built once per cold start and then invoked many times, so
// builders do all their expensive work (clients, keys) up front.
package platform

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/config"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/keyring"
	"github.com/pccc/pccc/shared/logging"
)

// Deps are the explicit dependencies of every function.
type Deps struct {
	Config config.Config
	Log    *slog.Logger
	AWS    *awsclient.Clients
	// HTTP is the client for outside services (bureau, carriers); adapters
	// set their own per-request timeouts on top of it.
	HTTP *http.Client
	// Getenv reads function-specific settings (queue URLs and the like) that
	// the template gives one function only.
	Getenv func(string) string
	Now    func() time.Time
}

// Builder builds a function's handler: a value lambda.NewHandler accepts,
// such as func(context.Context, events.APIGatewayV2HTTPRequest)
// (events.APIGatewayV2HTTPResponse, error).
type Builder func(ctx context.Context, d Deps) (any, error)

// Main builds the function from the process environment and hands it to the
// Lambda runtime. A configuration error ends the cold start with a message
// naming the setting, on stderr and to the Runtime API's init error.
func Main(name string, build Builder) {
	ctx := context.Background()
	if err := run(ctx, name, build, os.Getenv); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		if rerr := ReportInitError(ctx, os.Getenv("AWS_LAMBDA_RUNTIME_API"), name, err); rerr != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, rerr)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, name string, build Builder, getenv func(string) string) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := logging.New(os.Stdout, cfg.LogLevel).With("function", name)
	opts := awsclient.Options{Region: cfg.Region}
	if cfg.Local() {
		// A built bootstrap run against a local stack (the built-binary
		// test, make bench): the endpoints the environment names, with
		// awsclient's local options. In AWS the SDK's defaults rule.
		opts = awsclient.LocalFromEnv(cfg.Region, getenv)
	}
	clients, err := awsclient.New(ctx, opts)
	if err != nil {
		return err
	}
	if cfg.Keys, err = LoadKeys(ctx, cfg, clients); err != nil {
		return err
	}
	h, err := Build(ctx, build, Deps{
		Config: cfg, Log: log, AWS: clients, Getenv: getenv, Now: time.Now,
		HTTP: &http.Client{Transport: http.DefaultTransport},
	})
	if err != nil {
		return err
	}
	lambda.Start(h)
	return nil
}

// LoadKeys fetches the key rings the configuration names (PCCC_KEYS) from
// the keys bucket, decrypting them with KMS: the cold start's keys, in
// Lambda (Main) and in the local runner alike. An error names each ring
// that could not be had and where it was looked for.
func LoadKeys(ctx context.Context, cfg config.Config, clients *awsclient.Clients) (*keyring.Keys, error) {
	return keyring.Load(ctx, &keyring.Store{S3: clients.S3, KMS: clients.KMS, Bucket: cfg.KeysBucket}, cfg.KeyKinds, time.Now)
}

// Build builds a function as its cold start does, in Lambda (Main) and in
// the local runner alike. A handler of API Gateway events is wrapped by
// httpapi.RequireOrigin: it answers only what came through the CloudFront
// distribution, so nobody goes round the WAF to the execute-api URL. In
// AWS the origin keys are required of such a function; only a local run
// of a template without a distribution (no origin header to check) goes
// without. The accepted values are the origin ring's, fetched again when a
// request brings one not known (a rotation since the cold start).
func Build(ctx context.Context, build Builder, d Deps) (any, error) {
	h, err := build(ctx, d)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	var api httpapi.LambdaHandler
	switch x := h.(type) {
	case httpapi.LambdaHandler:
		api = x
	case func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error):
		api = x
	default:
		return h, nil
	}
	given := slices.Contains(d.Config.KeyKinds, keyring.Origin)
	if !given && d.Config.Local() {
		return api, nil
	}
	values, refresh, err := d.Config.Keys.OriginValues()
	if err != nil {
		return nil, fmt.Errorf("a function behind the API needs the origin keys (the distribution's header): %w", err)
	}
	return httpapi.RequireOriginRefreshing(d.Log, api, values, refresh), nil
}
