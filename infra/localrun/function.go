package localrun

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/samtemplate"
	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/config"
	"github.com/pccc/pccc/shared/logging"
	"github.com/pccc/pccc/shared/platform"
)

// function is a built function, ready to invoke.
type function struct {
	id      string // logical id
	name    string // registry name (CodeUri folder)
	arn     string
	timeout time.Duration
	// handlers holds lambda.Handlers of the one built function, one per
	// invocation in flight. aws-lambda-go's Invoke returns bytes of a
	// buffer its handler reuses at its next invocation (aws-lambda-go
	// PR #639), harmless in Lambda, where an environment runs one
	// invocation at a time. Here many run at once, and sharing one
	// handler let concurrent callers get each other's answers.
	handlers *sync.Pool
	env      map[string]string
	// remote is Options.Invoke for this function, when set.
	remote func(ctx context.Context, payload []byte) ([]byte, error)
}

// handlerPool hands out lambda.Handlers of h; see function.handlers.
func handlerPool(h any) *sync.Pool {
	return &sync.Pool{New: func() any { return lambda.NewHandler(h) }}
}

// invoke calls the handler as the Lambda runtime would: with the function's
// timeout as deadline and a Lambda context. A panic becomes an error, as
// the runtime reports it, instead of taking the runner down.
func (f *function) invoke(ctx context.Context, payload []byte) (out []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if f.remote != nil {
		return f.remote(ctx, payload)
	}
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID: newID(16), InvokedFunctionArn: f.arn,
	})
	defer func() {
		if p := recover(); p != nil {
			err = &panicError{value: p, stack: debug.Stack()}
		}
	}()
	h := f.handlers.Get().(lambda.Handler)
	out, err = h.Invoke(ctx, payload)
	// A copy, before the handler (and the buffer out points into) can
	// serve another invocation.
	out = bytes.Clone(out)
	f.handlers.Put(h)
	return out, err
}

// panicError is a recovered panic. Its message is the panic value, like the
// error Lambda logs for a panicking Go function.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string {
	if e, ok := p.value.(runtime.Error); ok {
		return "panic: " + e.Error()
	}
	return fmt.Sprintf("panic: %v", p.value)
}

// buildFunction resolves a function's environment and builds it once, as a
// cold start would.
func (r *Runner) buildFunction(ctx context.Context, f samtemplate.Function, secrets map[string]string) (*function, error) {
	build, ok := r.opts.Registry[f.Name()]
	if !ok {
		return nil, fmt.Errorf("function %s: CodeUri %s names %q, which the function registry does not have", f.LogicalID, f.CodeURI, f.Name())
	}
	env, err := r.functionEnv(f, secrets)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", f.LogicalID, err)
	}
	// What the function reads: its environment (functionEnv, where the
	// caller's values already won), then, for anything the template does
	// not name, the caller's environment.
	getenv := func(k string) string {
		if v, ok := env[k]; ok {
			return v
		}
		return r.opts.Getenv(k)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", f.LogicalID, err)
	}
	// Its key rings, as its cold start in Lambda fetches them: from the
	// keys bucket, decrypted by the local KMS (keys.go).
	if len(cfg.KeyKinds) > 0 && !r.opts.NoKeyRings {
		if err := r.ensureKeys(ctx, cfg.KeysBucket); err != nil {
			return nil, fmt.Errorf("function %s: %w", f.LogicalID, err)
		}
	}
	if cfg.Keys, err = platform.LoadKeys(ctx, cfg, r.functionClients()); err != nil {
		return nil, fmt.Errorf("function %s: %w", f.LogicalID, err)
	}
	// platform.Build, as a cold start in Lambda: an API function comes out
	// requiring the distribution's origin header.
	h, err := platform.Build(ctx, build, platform.Deps{
		Config: cfg,
		Log:    logging.New(r.opts.FunctionLog, cfg.LogLevel).With("function", f.Name()),
		AWS:    r.functionClients(),
		HTTP:   &http.Client{Transport: http.DefaultTransport},
		Getenv: getenv,
		Now:    r.now,
	})
	if err != nil {
		return nil, fmt.Errorf("function %s: %w", f.LogicalID, err)
	}
	// A ring given but never asked for is a grant wider than the code.
	if unused := cfg.Keys.Unused(); len(unused) > 0 && r.realFunctions {
		return nil, fmt.Errorf("function %s: PCCC_KEYS gives it key rings its code does not use: %v (remove them, and their grants)", f.LogicalID, unused)
	}
	if h == nil || (reflect.TypeOf(h).Kind() != reflect.Func && !implementsHandler(h)) {
		return nil, fmt.Errorf("function %s: builder returned %T, not a Lambda handler", f.LogicalID, h)
	}
	fn := &function{
		id: f.LogicalID, name: f.Name(),
		arn:      r.names.arn("lambda", "function:"+r.names.function(f.LogicalID)),
		timeout:  time.Duration(f.Timeout) * time.Second,
		handlers: handlerPool(h),
		env:      env,
	}
	if inv := r.opts.Invoke; inv != nil {
		fn.remote = func(ctx context.Context, payload []byte) ([]byte, error) { return inv(ctx, f.LogicalID, payload) }
	}
	return fn, nil
}

func implementsHandler(h any) bool {
	_, ok := h.(lambda.Handler)
	return ok
}

// Variables the runner sets for every function whatever the template says.
const (
	envPCCC    = "PCCC_ENV"
	envBureau  = "BUREAU_URL"
	envCarrier = "CARRIER_URL"
)

// functionEnv builds a function's environment. Precedence, lowest first:
//
//  1. the template: Globals.Function.Environment.Variables, then the
//     function's own, with references resolved against the local stack
//     (!Ref Table -> table name, !Ref Queue -> queue URL, !GetAtt
//     Queue.Arn, !Ref Param -> the parameter's default, AWS:: pseudo
//     parameters) and Secrets Manager dynamic references replaced by fresh
//     development secrets;
//  2. the runner's local settings: PCCC_ENV=local, BUREAU_URL=<runner
//     URL>/_local/bureau, CARRIER_URL=<runner URL>/_local/carrier,
//     PCCC_LOCAL_URL=<runner URL> (the SMS sender posts to /_local/sms),
//     PUBLIC_SITE_URL=<runner URL> (the page the notices name), AWS_REGION and AWS_DEFAULT_REGION of the stack,
//     AWS_LAMBDA_FUNCTION_NAME and _MEMORY_SIZE;
//  3. the caller's Getenv: any variable it sets (non-empty) wins, except
//     AWS_REGION and AWS_DEFAULT_REGION, which must match the stack the
//     clients talk to. Variables the template does not name fall through
//     to the caller's Getenv as well.
func (r *Runner) functionEnv(f samtemplate.Function, secrets map[string]string) (map[string]string, error) {
	env := map[string]string{}
	keys := make([]string, 0, len(f.Env))
	for k := range f.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := f.Env[k].Resolve(r.resolve)
		if err != nil {
			return nil, fmt.Errorf("environment %s: %w", k, err)
		}
		if v, err = replaceDynamicRefs(v, secrets); err != nil {
			return nil, fmt.Errorf("environment %s: %w", k, err)
		}
		env[k] = v
	}
	env[envPCCC] = "local"
	env[envBureau] = r.url + "/_local/bureau"
	env[envCarrier] = r.url + "/_local/carrier"
	env["PCCC_LOCAL_URL"] = r.url
	env["PUBLIC_SITE_URL"] = r.url
	env["AWS_LAMBDA_FUNCTION_NAME"] = r.names.function(f.LogicalID)
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(f.MemorySize)
	for k := range env {
		if v := r.opts.Getenv(k); v != "" {
			env[k] = v
		}
	}
	env["AWS_REGION"] = r.stack.Region
	env["AWS_DEFAULT_REGION"] = r.stack.Region
	return env, nil
}

// resolve answers the template's references with what exists locally.
func (r *Runner) resolve(ref samtemplate.Ref) (string, error) {
	if ref.Condition {
		on, err := r.tpl.Condition(ref.Name, r.resolve)
		return strconv.FormatBool(on), err
	}
	switch ref.Name {
	case "AWS::Region":
		return r.stack.Region, nil
	case "AWS::AccountId":
		return localstack.AccountID, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return strings.TrimSuffix(r.names.prefix, "-"), nil
	case "AWS::StackId":
		return r.names.arn("cloudformation", "stack/"+strings.TrimSuffix(r.names.prefix, "-")+"/local"), nil
	case "AWS::NoValue":
		return "", nil
	}
	if prm, ok := r.tpl.Parameters[ref.Name]; ok && ref.Attribute == "" {
		if !prm.HasDefault {
			// What a deploy must be given (the bureau, the carriers, the
			// origin, the SMS quota, ...) has a local answer here or none.
			if v, ok := r.localParams()[ref.Name]; ok {
				return v, nil
			}
			return "", fmt.Errorf("parameter %s has no default and the local runner has no local value for it (localParams, infra/localrun/function.go)", ref.Name)
		}
		return r.tpl.Param(ref.Name)
	}
	res, ok := r.tpl.Resources[ref.Name]
	if !ok {
		return "", fmt.Errorf("%s names nothing in the template", ref)
	}
	unsupported := fmt.Errorf("%s (%s) is not something the local runner can provide", ref, res.Type)
	switch res.Type {
	case samtemplate.TypeTable:
		name := r.names.table(ref.Name)
		switch ref.Attribute {
		case "":
			return name, nil
		case "Arn":
			return r.names.arn("dynamodb", "table/"+name), nil
		}
	case samtemplate.TypeQueue:
		q, ok := r.names.queues[ref.Name]
		if !ok {
			return "", fmt.Errorf("%s: the queue was not created", ref)
		}
		switch ref.Attribute {
		case "", "QueueUrl":
			return q.url, nil
		case "Arn":
			return q.arn, nil
		case "QueueName":
			return q.name, nil
		}
	case samtemplate.TypeBucket:
		name := r.names.bucket(ref.Name)
		switch ref.Attribute {
		case "":
			return name, nil
		case "Arn":
			return "arn:aws:s3:::" + name, nil
		}
	case samtemplate.TypeFunction:
		name := r.names.function(ref.Name)
		switch ref.Attribute {
		case "":
			return name, nil
		case "Arn":
			return r.names.arn("lambda", "function:"+name), nil
		}
	}
	return "", unsupported
}

// localParams are the values of the template's parameters without a
// default in a local run: the simulator's bureau and carriers, the runner's
// own origin, the provider quota AWS End User Messaging starts an account
// with, and an address nobody reads for the alarms (none fire locally).
func (r *Runner) localParams() map[string]string {
	return map[string]string{
		"BureauUrl":     r.url + "/_local/bureau",
		"CarrierUrl":    r.url + "/_local/carrier",
		"AllowedOrigin": "http://localhost:3000",
		"SmsRate":       "10",
		"PublicSiteUrl": r.url,
		"AlertEmail":    "operators@example.invalid",
	}
}

// dynamicRef matches CloudFormation dynamic references.
var dynamicRef = regexp.MustCompile(`\{\{resolve:([a-z-]+):([^}]*)\}\}`)

// replaceDynamicRefs swaps {{resolve:secretsmanager:<id>:SecretString:<key>}}
// for the development secret of that key. Other services (ssm, ...) are not
// available locally and are an error, so the template cannot drift into
// needing something the runner cannot give.
func replaceDynamicRefs(v string, secrets map[string]string) (string, error) {
	var firstErr error
	out := dynamicRef.ReplaceAllStringFunc(v, func(m string) string {
		parts := dynamicRef.FindStringSubmatch(m)
		service, rest := parts[1], strings.Split(parts[2], ":")
		if service != "secretsmanager" {
			firstErr = fmt.Errorf("dynamic reference to %s is not supported locally", service)
			return m
		}
		// <secret-id>:SecretString:<json-key>[:<version-stage>:<version-id>];
		// the id may be an ARN, itself full of colons.
		at := slices.Index(rest, "SecretString")
		if at < 1 || at+1 >= len(rest) || rest[at+1] == "" {
			firstErr = fmt.Errorf("secretsmanager reference must name a JSON key: {{resolve:secretsmanager:<id>:SecretString:<key>}}")
			return m
		}
		key := rest[at+1]
		s, ok := secrets[key]
		if !ok {
			known := make([]string, 0, len(secrets))
			for k := range secrets {
				known = append(known, k)
			}
			sort.Strings(known)
			firstErr = fmt.Errorf("secret key %q has no local development value (known: %s)", key, strings.Join(known, ", "))
			return m
		}
		return s
	})
	return out, firstErr
}

// newDevSecrets makes the development secrets of one run: fresh random keys
// each start, so nothing sealed in one local run is readable in another and
// no key is ever committed.
func newDevSecrets() (map[string]string, error) {
	key := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
		return base64.StdEncoding.EncodeToString(b)
	}
	return map[string]string{
		"hmacKey":      key(),
		"dataKeys":     "dev1:" + key(),
		"dataKeyId":    "dev1",
		"sessionKeys":  "dev1:" + key(),
		"sessionKeyId": "dev1",
		// The distribution's header to the API (template.yaml
		// Distribution OriginCustomHeaders); the runner adds it to every
		// API request as CloudFront does.
		"originSecret": key(),
	}, nil
}

// newID returns n random bytes in hex: request ids, event ids.
func newID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (r *Runner) functionClients() *awsclient.Clients {
	if r.opts.FunctionClients != nil {
		return r.opts.FunctionClients
	}
	return r.clients
}
