// Package samtemplate reads the AWS SAM template (template.yaml) into a small
// typed model of what pccc deploys: parameters, functions with their
// environment (Globals merged), HTTP API routes, SQS event sources and
// schedules, DynamoDB tables, SQS queues, S3 buckets, and the edge: the
// CloudFront distribution and its response headers policy.
//
// It exists so that the local runner builds exactly what the template
// declares instead of keeping a second list by hand. General-purpose
// libraries either drop Globals and intrinsic functions or pull in the whole
// CloudFormation schema; this reader parses YAML with gopkg.in/yaml.v3,
// turns CloudFormation's short tags (!Ref, !GetAtt, !Sub, ...) into their
// long "Fn::" forms and keeps unresolved references as Values, which the
// caller resolves against its own idea of the deployed resources.
//
// It understands the subset pccc uses and says so when it meets more: an
// unsupported function event type is an error rather than something
// silently skipped, because a runner that skipped it would drift from AWS.
package samtemplate

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Resource types the model knows.
const (
	TypeFunction = "AWS::Serverless::Function"
	TypeHTTPAPI  = "AWS::Serverless::HttpApi"
	TypeTable    = "AWS::DynamoDB::Table"
	TypeQueue    = "AWS::SQS::Queue"
	TypeBucket   = "AWS::S3::Bucket"
)

// Template is the part of a SAM template the local runner needs.
type Template struct {
	Transform  []string
	Parameters map[string]Parameter
	// Conditions hold each condition's expression (Fn::Equals, ...).
	Conditions map[string]Value
	Functions  []Function
	HTTPAPIs   []HTTPAPI
	Tables     []Table
	Queues     []Queue
	// Buckets are the logical ids of the S3 buckets.
	Buckets []string
	// Distributions (at most one) and the response headers policies its
	// behaviours name: the edge, which the local runner serves too.
	Distributions           []Distribution
	ResponseHeadersPolicies []ResponseHeadersPolicy
	CloudFrontFunctions     []CloudFrontFunction
	// Resources is every resource by logical id, including those the model
	// has no type for.
	Resources map[string]Resource
	Outputs   map[string]Value
}

// Resource is any resource in generic form.
type Resource struct {
	LogicalID  string
	Type       string
	Condition  string
	Properties map[string]any
	Metadata   map[string]any
}

// Parameter is a template parameter.
type Parameter struct {
	Name          string
	Type          string
	Default       string
	HasDefault    bool
	AllowedValues []string
	// AllowedPattern is the regular expression a value must match, "" for
	// none.
	AllowedPattern string
	Description    string
}

// Function is an AWS::Serverless::Function with Globals.Function applied.
type Function struct {
	LogicalID string
	// CodeURI is the folder of the function's code ("functions/realname").
	CodeURI       string
	Handler       string
	Runtime       string
	Architectures []string
	Timeout       int // seconds; Lambda's default 3 when neither sets it
	MemorySize    int // MB; Lambda's default 128
	// ReservedConcurrency is ReservedConcurrentExecutions, 0 when unset or
	// given by an intrinsic (!If on a parameter).
	ReservedConcurrency int
	// Env is Globals.Function.Environment.Variables overlaid with the
	// function's own (the function wins on the same name).
	Env        map[string]Value
	Routes     []Route
	SQSSources []SQSSource
	Schedules  []Schedule
	Metadata   map[string]any
}

// Name is the base name of the function's code folder, the key of
// functions.Registry: "functions/realname" -> "realname".
func (f Function) Name() string { return path.Base(strings.TrimRight(f.CodeURI, "/")) }

// Route is an HttpApi event: one API Gateway route to a function.
type Route struct {
	Function string // logical id
	Event    string // the event's name in the template
	// API is the logical id of the AWS::Serverless::HttpApi, "" for SAM's
	// implicit ServerlessHttpApi.
	API    string
	Method string // upper case; "ANY" matches every method
	Path   string // "/v1/verifications/{id}", or "$default"
}

// RouteKey is API Gateway's name for the route: "POST /v1/verifications".
func (r Route) RouteKey() string {
	if r.Path == "$default" {
		return "$default"
	}
	return r.Method + " " + r.Path
}

// SQSSource is an SQS event: Lambda polls the queue and invokes the function
// with batches.
type SQSSource struct {
	Function string // logical id
	Event    string
	Queue    string // logical id of the AWS::SQS::Queue
	// BatchSize defaults to 10, as in Lambda.
	BatchSize               int
	ReportBatchItemFailures bool
	// MaximumConcurrency is ScalingConfig.MaximumConcurrency, 0 when unset.
	MaximumConcurrency int
	// MaximumBatchingWindow is MaximumBatchingWindowInSeconds.
	MaximumBatchingWindow int
	Enabled               bool
}

// Schedule is a Schedule (EventBridge rule) or ScheduleV2 (EventBridge
// Scheduler) event.
type Schedule struct {
	Function string // logical id
	Event    string // the event's name in the template
	// LogicalID is the id SAM gives the generated rule or schedule:
	// function logical id + event name.
	LogicalID string
	// Name is the rule's Name property, "" when SAM generates one.
	Name       string
	Type       string // "Schedule" or "ScheduleV2"
	Expression string // rate(...) or cron(...)
	// Timezone is ScheduleExpressionTimezone (ScheduleV2 only), "" = UTC.
	Timezone string
	Enabled  bool
	// Input is the JSON the function receives instead of the scheduled
	// event, "" when not set.
	Input string
}

// HTTPAPI is an AWS::Serverless::HttpApi.
type HTTPAPI struct {
	LogicalID string
	Cors      *Cors
	// ThrottlingBurstLimit / ThrottlingRateLimit of DefaultRouteSettings.
	ThrottlingBurstLimit Value
	ThrottlingRateLimit  Value
}

// Cors is an HttpApi's CorsConfiguration; list values may be references
// (a CommaDelimitedList parameter), hence Values.
type Cors struct {
	AllowOrigins     Value
	AllowMethods     Value
	AllowHeaders     Value
	ExposeHeaders    Value
	MaxAge           Value
	AllowCredentials Value
}

// Table is an AWS::DynamoDB::Table.
type Table struct {
	LogicalID            string
	TableName            Value // empty: CloudFormation generates the name
	BillingMode          string
	AttributeDefinitions []AttributeDefinition
	KeySchema            []KeyElement
	GSIs                 []Index
	LSIs                 []Index
	TTLAttribute         string // "" when TTL is off
	StreamViewType       string
}

// AttributeDefinition names a key attribute and its type (S, N or B).
type AttributeDefinition struct{ Name, Type string }

// KeyElement is one part of a key schema (HASH or RANGE).
type KeyElement struct{ Name, KeyType string }

// Index is a secondary index.
type Index struct {
	Name             string
	KeySchema        []KeyElement
	ProjectionType   string
	NonKeyAttributes []string
}

// Queue is an AWS::SQS::Queue.
type Queue struct {
	LogicalID string
	QueueName Value
	// VisibilityTimeout defaults to 30 s, MessageRetention to 4 days, as in
	// SQS.
	VisibilityTimeout int
	MessageRetention  int
	DelaySeconds      int
	// DLQ is the logical id the RedrivePolicy's deadLetterTargetArn points
	// at (!GetAtt X.Arn); "" without a redrive policy.
	DLQ                       string
	MaxReceiveCount           int
	FIFO                      bool
	ContentBasedDeduplication bool
}

// Load reads and parses a template file.
func Load(file string) (*Template, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return t, nil
}

// Parse parses a template. Every problem found is reported, joined.
func Parse(b []byte) (*Template, error) {
	raw, err := decode(b)
	if err != nil {
		return nil, err
	}
	root, ok := raw.(map[string]any)
	if !ok {
		return nil, errors.New("the template is not a mapping")
	}
	p := &parser{t: &Template{
		Parameters: map[string]Parameter{},
		Conditions: map[string]Value{},
		Resources:  map[string]Resource{},
		Outputs:    map[string]Value{},
	}}
	p.parse(root)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.t, nil
}

type parser struct {
	t    *Template
	errs []error
}

func (p *parser) fail(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *parser) parse(root map[string]any) {
	switch tr := root["Transform"].(type) {
	case string:
		p.t.Transform = []string{tr}
	case []any:
		for _, e := range tr {
			if s, ok := e.(string); ok {
				p.t.Transform = append(p.t.Transform, s)
			}
		}
	}
	for name, v := range mapping(root["Parameters"]) {
		p.t.Parameters[name] = p.parameter(name, mapping(v))
	}
	for name, v := range mapping(root["Conditions"]) {
		p.t.Conditions[name] = Value{v}
	}
	for name, v := range mapping(root["Outputs"]) {
		p.t.Outputs[name] = Value{mapping(v)["Value"]}
	}
	globals := mapping(mapping(root["Globals"])["Function"])

	resources := mapping(root["Resources"])
	if len(resources) == 0 {
		p.fail("the template has no Resources")
	}
	ids := make([]string, 0, len(resources))
	for id := range resources {
		ids = append(ids, id)
	}
	// Sorted, so Functions, Tables and Queues come out in a stable order.
	sort.Strings(ids)
	for _, id := range ids {
		r := mapping(resources[id])
		res := Resource{
			LogicalID:  id,
			Type:       str(r["Type"]),
			Condition:  str(r["Condition"]),
			Properties: mapping(r["Properties"]),
			Metadata:   mapping(r["Metadata"]),
		}
		if res.Type == "" {
			p.fail("resource %s has no Type", id)
			continue
		}
		p.t.Resources[id] = res
		switch res.Type {
		case TypeFunction:
			p.t.Functions = append(p.t.Functions, p.function(res, globals))
		case TypeHTTPAPI:
			p.t.HTTPAPIs = append(p.t.HTTPAPIs, p.httpAPI(res))
		case TypeTable:
			p.t.Tables = append(p.t.Tables, p.table(res))
		case TypeQueue:
			p.t.Queues = append(p.t.Queues, p.queue(res))
		case TypeBucket:
			p.t.Buckets = append(p.t.Buckets, id)
		case TypeDistribution:
			p.t.Distributions = append(p.t.Distributions, p.distribution(res))
		case TypeResponseHeadersPolicy:
			p.t.ResponseHeadersPolicies = append(p.t.ResponseHeadersPolicies, p.responseHeadersPolicy(res))
		case TypeCloudFrontFunction:
			p.t.CloudFrontFunctions = append(p.t.CloudFrontFunctions, p.cloudFrontFunction(res))
		}
	}
	p.checkReferences()
	p.checkEdge()
}

func (p *parser) parameter(name string, m map[string]any) Parameter {
	prm := Parameter{Name: name, Type: str(m["Type"]), Description: str(m["Description"]), AllowedPattern: str(m["AllowedPattern"])}
	if prm.Type == "" {
		p.fail("parameter %s has no Type", name)
	}
	if d, ok := m["Default"]; ok {
		s, ok := scalarString(d)
		if !ok {
			if l, isList := d.([]any); isList {
				s, _ = Value{l}.Resolve(nil)
				ok = true
			}
		}
		if !ok {
			p.fail("parameter %s: Default must be a scalar", name)
		}
		prm.Default, prm.HasDefault = s, true
	}
	for _, a := range list(m["AllowedValues"]) {
		s, _ := scalarString(a)
		prm.AllowedValues = append(prm.AllowedValues, s)
	}
	if prm.HasDefault && len(prm.AllowedValues) > 0 && !contains(prm.AllowedValues, prm.Default) {
		p.fail("parameter %s: Default %q is not among AllowedValues %v", name, prm.Default, prm.AllowedValues)
	}
	return prm
}

func (p *parser) function(res Resource, globals map[string]any) Function {
	props := res.Properties
	// get returns the function's own property, else the global one: SAM's
	// rule for scalars in Globals.
	get := func(k string) any {
		if v, ok := props[k]; ok {
			return v
		}
		return globals[k]
	}
	f := Function{
		LogicalID:           res.LogicalID,
		CodeURI:             str(get("CodeUri")),
		Handler:             str(get("Handler")),
		Runtime:             str(get("Runtime")),
		Timeout:             p.integer(get("Timeout"), 3, "function %s Timeout", res.LogicalID),
		MemorySize:          p.integer(get("MemorySize"), 128, "function %s MemorySize", res.LogicalID),
		ReservedConcurrency: p.integer(plainOnly(get("ReservedConcurrentExecutions")), 0, "function %s ReservedConcurrentExecutions", res.LogicalID),
		Env:                 map[string]Value{},
		Metadata:            res.Metadata,
	}
	for _, a := range list(get("Architectures")) {
		f.Architectures = append(f.Architectures, str(a))
	}
	if f.CodeURI == "" {
		p.fail("function %s has no CodeUri (or it is not a plain path)", res.LogicalID)
	}
	// Environment variables merge key by key, the function winning: SAM's
	// rule for maps in Globals.
	for _, src := range []map[string]any{globals, props} {
		for k, v := range mapping(mapping(src["Environment"])["Variables"]) {
			f.Env[k] = Value{v}
		}
	}

	events := mapping(props["Events"])
	names := make([]string, 0, len(events))
	for n := range events {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, ev := range names {
		e := mapping(events[ev])
		ep := mapping(e["Properties"])
		where := fmt.Sprintf("function %s event %s", res.LogicalID, ev)
		switch typ := str(e["Type"]); typ {
		case "HttpApi":
			f.Routes = append(f.Routes, p.route(f.LogicalID, ev, ep, where))
		case "SQS":
			f.SQSSources = append(f.SQSSources, p.sqsSource(f.LogicalID, ev, ep, where))
		case "Schedule", "ScheduleV2":
			f.Schedules = append(f.Schedules, p.schedule(f.LogicalID, ev, typ, ep, where))
		default:
			p.fail("%s: event type %q is not supported by samtemplate (and so not by the local runner); add it there", where, typ)
		}
	}
	return f
}

func (p *parser) route(fn, ev string, ep map[string]any, where string) Route {
	r := Route{Function: fn, Event: ev, Method: strings.ToUpper(str(ep["Method"])), Path: str(ep["Path"])}
	if api, ok := (Value{ep["ApiId"]}).RefTarget(); ok && api.Attribute == "" {
		r.API = api.Name
	} else if ep["ApiId"] != nil {
		p.fail("%s: ApiId must be !Ref of an HttpApi in this template", where)
	}
	// Without Path and Method an HttpApi event is the $default route.
	if r.Path == "" && r.Method == "" {
		r.Path, r.Method = "$default", "ANY"
	}
	switch {
	case r.Path == "$default":
	case !strings.HasPrefix(r.Path, "/"):
		p.fail("%s: Path %q must start with /", where, r.Path)
	case r.Method == "":
		p.fail("%s: Method is required with Path", where)
	}
	if strings.HasPrefix(r.Method, "X-AMAZON-APIGATEWAY-ANY-METHOD") {
		r.Method = "ANY"
	}
	return r
}

func (p *parser) sqsSource(fn, ev string, ep map[string]any, where string) SQSSource {
	s := SQSSource{
		Function:              fn,
		Event:                 ev,
		BatchSize:             p.integer(ep["BatchSize"], 10, "%s BatchSize", where),
		MaximumBatchingWindow: p.integer(ep["MaximumBatchingWindowInSeconds"], 0, "%s MaximumBatchingWindowInSeconds", where),
		MaximumConcurrency:    p.integer(mapping(ep["ScalingConfig"])["MaximumConcurrency"], 0, "%s ScalingConfig.MaximumConcurrency", where),
		Enabled:               p.boolean(ep["Enabled"], true, "%s Enabled", where),
	}
	ref, ok := (Value{ep["Queue"]}).RefTarget()
	if !ok || ref.Attribute != "Arn" {
		p.fail("%s: Queue must be !GetAtt <Queue>.Arn", where)
	}
	s.Queue = ref.Name
	for _, t := range list(ep["FunctionResponseTypes"]) {
		if str(t) == "ReportBatchItemFailures" {
			s.ReportBatchItemFailures = true
		}
	}
	// The limits Lambda enforces when the mapping is created; failing here
	// is cheaper than failing a deploy.
	if s.BatchSize < 1 || s.BatchSize > 10000 {
		p.fail("%s: BatchSize %d outside 1-10000", where, s.BatchSize)
	}
	if s.BatchSize > 10 && s.MaximumBatchingWindow < 1 {
		p.fail("%s: BatchSize over 10 needs MaximumBatchingWindowInSeconds of at least 1", where)
	}
	if s.MaximumConcurrency != 0 && (s.MaximumConcurrency < 2 || s.MaximumConcurrency > 1000) {
		p.fail("%s: MaximumConcurrency %d outside 2-1000", where, s.MaximumConcurrency)
	}
	return s
}

func (p *parser) schedule(fn, ev, typ string, ep map[string]any, where string) Schedule {
	s := Schedule{Function: fn, Event: ev, LogicalID: fn + ev, Type: typ, Name: str(ep["Name"])}
	if typ == "Schedule" {
		s.Expression = str(ep["Schedule"])
		s.Enabled = p.boolean(ep["Enabled"], true, "%s Enabled", where)
		if st := str(ep["State"]); st != "" {
			s.Enabled = st == "ENABLED"
		}
	} else {
		s.Expression = str(ep["ScheduleExpression"])
		s.Timezone = str(ep["ScheduleExpressionTimezone"])
		st := str(ep["State"])
		s.Enabled = st == "" || st == "ENABLED"
	}
	if s.Expression == "" {
		p.fail("%s: no schedule expression", where)
	}
	if in, ok := ep["Input"]; ok {
		s.Input = str(in)
		if s.Input == "" {
			p.fail("%s: Input must be a JSON string", where)
		}
	}
	return s
}

func (p *parser) httpAPI(res Resource) HTTPAPI {
	a := HTTPAPI{LogicalID: res.LogicalID}
	if c, ok := res.Properties["CorsConfiguration"].(map[string]any); ok {
		a.Cors = &Cors{
			AllowOrigins:     Value{c["AllowOrigins"]},
			AllowMethods:     Value{c["AllowMethods"]},
			AllowHeaders:     Value{c["AllowHeaders"]},
			ExposeHeaders:    Value{c["ExposeHeaders"]},
			MaxAge:           Value{c["MaxAge"]},
			AllowCredentials: Value{c["AllowCredentials"]},
		}
	}
	rs := mapping(res.Properties["DefaultRouteSettings"])
	a.ThrottlingBurstLimit = Value{rs["ThrottlingBurstLimit"]}
	a.ThrottlingRateLimit = Value{rs["ThrottlingRateLimit"]}
	return a
}

func (p *parser) table(res Resource) Table {
	props := res.Properties
	t := Table{
		LogicalID:      res.LogicalID,
		TableName:      Value{props["TableName"]},
		BillingMode:    str(props["BillingMode"]),
		KeySchema:      keySchema(props["KeySchema"]),
		StreamViewType: str(mapping(props["StreamSpecification"])["StreamViewType"]),
	}
	if t.BillingMode == "" {
		t.BillingMode = "PROVISIONED" // CloudFormation's default
	}
	for _, a := range list(props["AttributeDefinitions"]) {
		m := mapping(a)
		t.AttributeDefinitions = append(t.AttributeDefinitions, AttributeDefinition{Name: str(m["AttributeName"]), Type: str(m["AttributeType"])})
	}
	for _, kind := range []string{"GlobalSecondaryIndexes", "LocalSecondaryIndexes"} {
		for _, g := range list(props[kind]) {
			m := mapping(g)
			proj := mapping(m["Projection"])
			idx := Index{Name: str(m["IndexName"]), KeySchema: keySchema(m["KeySchema"]), ProjectionType: str(proj["ProjectionType"])}
			for _, a := range list(proj["NonKeyAttributes"]) {
				idx.NonKeyAttributes = append(idx.NonKeyAttributes, str(a))
			}
			if kind == "GlobalSecondaryIndexes" {
				t.GSIs = append(t.GSIs, idx)
			} else {
				t.LSIs = append(t.LSIs, idx)
			}
		}
	}
	if ttl := mapping(props["TimeToLiveSpecification"]); p.boolean(ttl["Enabled"], false, "table %s TimeToLiveSpecification.Enabled", res.LogicalID) {
		t.TTLAttribute = str(ttl["AttributeName"])
	}
	// Every key attribute must be defined and every definition used: what
	// DynamoDB itself checks on CreateTable.
	defined := map[string]bool{}
	for _, a := range t.AttributeDefinitions {
		defined[a.Name] = true
	}
	used := map[string]bool{}
	schemas := [][]KeyElement{t.KeySchema}
	for _, i := range append(append([]Index{}, t.GSIs...), t.LSIs...) {
		schemas = append(schemas, i.KeySchema)
	}
	for _, ks := range schemas {
		for _, k := range ks {
			used[k.Name] = true
			if !defined[k.Name] {
				p.fail("table %s: key attribute %s is not in AttributeDefinitions", res.LogicalID, k.Name)
			}
		}
	}
	for _, a := range t.AttributeDefinitions {
		if !used[a.Name] {
			p.fail("table %s: attribute %s is defined but used in no key", res.LogicalID, a.Name)
		}
	}
	if len(t.KeySchema) == 0 {
		p.fail("table %s has no KeySchema", res.LogicalID)
	}
	return t
}

func keySchema(v any) []KeyElement {
	var ks []KeyElement
	for _, k := range list(v) {
		m := mapping(k)
		ks = append(ks, KeyElement{Name: str(m["AttributeName"]), KeyType: str(m["KeyType"])})
	}
	return ks
}

func (p *parser) queue(res Resource) Queue {
	props := res.Properties
	where := "queue " + res.LogicalID
	q := Queue{
		LogicalID:                 res.LogicalID,
		QueueName:                 Value{props["QueueName"]},
		VisibilityTimeout:         p.integer(props["VisibilityTimeout"], 30, "%s VisibilityTimeout", where),
		MessageRetention:          p.integer(props["MessageRetentionPeriod"], 345600, "%s MessageRetentionPeriod", where),
		DelaySeconds:              p.integer(props["DelaySeconds"], 0, "%s DelaySeconds", where),
		FIFO:                      p.boolean(props["FifoQueue"], false, "%s FifoQueue", where),
		ContentBasedDeduplication: p.boolean(props["ContentBasedDeduplication"], false, "%s ContentBasedDeduplication", where),
	}
	if rp, ok := props["RedrivePolicy"]; ok {
		m, isMap := rp.(map[string]any)
		if !isMap {
			p.fail("%s: RedrivePolicy must be a mapping with deadLetterTargetArn: !GetAtt <Queue>.Arn", where)
			return q
		}
		ref, ok := (Value{m["deadLetterTargetArn"]}).RefTarget()
		if !ok || ref.Attribute != "Arn" {
			p.fail("%s: RedrivePolicy.deadLetterTargetArn must be !GetAtt <Queue>.Arn", where)
		}
		q.DLQ = ref.Name
		q.MaxReceiveCount = p.integer(m["maxReceiveCount"], 0, "%s RedrivePolicy.maxReceiveCount", where)
		if q.MaxReceiveCount < 1 || q.MaxReceiveCount > 1000 {
			p.fail("%s: RedrivePolicy.maxReceiveCount must be 1-1000", where)
		}
	}
	return q
}

// checkReferences checks that events and redrive policies name resources of
// the right type in this template.
func (p *parser) checkReferences() {
	isType := func(id, typ string) bool { return p.t.Resources[id].Type == typ }
	for _, f := range p.t.Functions {
		for _, r := range f.Routes {
			if r.API != "" && !isType(r.API, TypeHTTPAPI) {
				p.fail("function %s event %s: ApiId %s is not an %s", f.LogicalID, r.Event, r.API, TypeHTTPAPI)
			}
		}
		for _, s := range f.SQSSources {
			if s.Queue != "" && !isType(s.Queue, TypeQueue) {
				p.fail("function %s event %s: Queue %s is not an %s", f.LogicalID, s.Event, s.Queue, TypeQueue)
			}
		}
	}
	for _, q := range p.t.Queues {
		if q.DLQ != "" && !isType(q.DLQ, TypeQueue) {
			p.fail("queue %s: dead-letter target %s is not an %s", q.LogicalID, q.DLQ, TypeQueue)
		}
	}
	seen := map[string]string{}
	for _, f := range p.t.Functions {
		for _, r := range f.Routes {
			key := r.API + " " + r.RouteKey()
			if other, dup := seen[key]; dup {
				p.fail("route %s is declared by both %s and %s", r.RouteKey(), other, f.LogicalID)
			}
			seen[key] = f.LogicalID
		}
	}
}

// Param returns a parameter's default, or an error when it has none.
func (t *Template) Param(name string) (string, error) {
	prm, ok := t.Parameters[name]
	if !ok {
		return "", fmt.Errorf("no parameter %s", name)
	}
	if !prm.HasDefault {
		return "", fmt.Errorf("parameter %s has no default", name)
	}
	return prm.Default, nil
}

// Condition evaluates a named condition with r answering references.
func (t *Template) Condition(name string, r Resolver) (bool, error) {
	expr, ok := t.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := resolve(expr.raw, r)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("condition %s is not a condition function", name)
	}
	return b, nil
}

// Function returns the function with the logical id.
func (t *Template) Function(id string) (Function, bool) {
	for _, f := range t.Functions {
		if f.LogicalID == id {
			return f, true
		}
	}
	return Function{}, false
}

// Queue returns the queue with the logical id.
func (t *Template) Queue(id string) (Queue, bool) {
	for _, q := range t.Queues {
		if q.LogicalID == id {
			return q, true
		}
	}
	return Queue{}, false
}

// Routes lists every route of every function, ordered by function.
func (t *Template) Routes() []Route {
	var out []Route
	for _, f := range t.Functions {
		out = append(out, f.Routes...)
	}
	return out
}

func mapping(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// str returns a scalar as text and "" for anything else (an intrinsic
// function where a plain value is required is caught by the caller).
func str(v any) string {
	s, ok := scalarString(v)
	if !ok {
		return ""
	}
	return s
}

// plainOnly is v when it is a plain value, nil when it is an intrinsic
// (a setting the deploy's parameters decide, such as a reserved
// concurrency that may be off): the local runner reads it as unset.
func plainOnly(v any) any {
	if _, ok := v.(map[string]any); ok {
		return nil
	}
	return v
}

func (p *parser) integer(v any, def int, what string, args ...any) int {
	if v == nil {
		return def
	}
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		// A !Ref to a parameter: its default, as a deploy without an
		// override has it.
		if name, ok := m["Ref"].(string); ok {
			if prm, ok := p.t.Parameters[name]; ok && prm.HasDefault {
				v = prm.Default
			}
		}
	}
	s, ok := scalarString(v)
	if !ok {
		p.fail(what+": must be a plain number here", args...)
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		p.fail(what+": %q is not a whole number", append(args, s)...)
		return def
	}
	return n
}

func (p *parser) boolean(v any, def bool, what string, args ...any) bool {
	if v == nil {
		return def
	}
	s, ok := scalarString(v)
	if !ok {
		p.fail(what+": must be a plain true or false here", args...)
		return def
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		p.fail(what+": %q is not true or false", append(args, s)...)
		return def
	}
	return b
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}
