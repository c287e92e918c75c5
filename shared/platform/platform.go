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
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/config"
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
// naming the setting.
func Main(name string, build Builder) {
	ctx := context.Background()
	if err := run(ctx, name, build, os.Getenv); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, name string, build Builder, getenv func(string) string) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	log := logging.New(os.Stdout, cfg.LogLevel).With("function", name)
	clients, err := awsclient.New(ctx, awsclient.Options{Region: cfg.Region})
	if err != nil {
		return err
	}
	h, err := build(ctx, Deps{
		Config: cfg, Log: log, AWS: clients, Getenv: getenv, Now: time.Now,
		HTTP: &http.Client{Transport: http.DefaultTransport},
	})
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	lambda.Start(h)
	return nil
}
