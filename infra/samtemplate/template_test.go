package samtemplate

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestShortTags(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want any
	}{
		{"Ref", `v: !Ref Table`, map[string]any{"Ref": "Table"}},
		{"Ref of a number-like name stays text", `v: !Ref 5`, map[string]any{"Ref": "5"}},
		{"GetAtt dotted", `v: !GetAtt Queue.Arn`, map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}},
		{"GetAtt nested attribute", `v: !GetAtt Stack.Outputs.Url`, map[string]any{"Fn::GetAtt": []any{"Stack", "Outputs.Url"}}},
		{"GetAtt list", `v: !GetAtt [Queue, QueueName]`, map[string]any{"Fn::GetAtt": []any{"Queue", "QueueName"}}},
		{"Sub string", `v: !Sub "arn:${AWS::Partition}:x"`, map[string]any{"Fn::Sub": "arn:${AWS::Partition}:x"}},
		{"Sub list", "v: !Sub\n  - '${A}-${B}'\n  - B: !Ref Stage\n", map[string]any{"Fn::Sub": []any{"${A}-${B}", map[string]any{"B": map[string]any{"Ref": "Stage"}}}}},
		{"If with nested tags", `v: !If [C, !Ref A, !Ref AWS::NoValue]`, map[string]any{"Fn::If": []any{"C", map[string]any{"Ref": "A"}, map[string]any{"Ref": "AWS::NoValue"}}}},
		{"Equals", `v: !Equals [!Ref P, "true"]`, map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "P"}, "true"}}},
		{"Select Split", `v: !Select [1, !Split [",", "a,b"]]`, map[string]any{"Fn::Select": []any{1, map[string]any{"Fn::Split": []any{",", "a,b"}}}}},
		{"Join", `v: !Join ["", [a, !Ref B]]`, map[string]any{"Fn::Join": []any{"", []any{"a", map[string]any{"Ref": "B"}}}}},
		{"Not And Or Condition", `v: !Not [!And [!Condition A, !Or [!Condition B, !Condition C]]]`, map[string]any{"Fn::Not": []any{map[string]any{"Fn::And": []any{map[string]any{"Condition": "A"}, map[string]any{"Fn::Or": []any{map[string]any{"Condition": "B"}, map[string]any{"Condition": "C"}}}}}}}},
		{"long form untouched", "v:\n  Fn::GetAtt: [Q, Arn]\n", map[string]any{"Fn::GetAtt": []any{"Q", "Arn"}}},
		{"plain scalars typed", "v: [1, true, x, 1.5]", []any{1, true, "x", 1.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if v := got.(map[string]any)["v"]; !reflect.DeepEqual(v, tt.want) {
				t.Errorf("got %#v\nwant %#v", v, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"unknown tag", "v: !Frobnicate x", "unknown tag !Frobnicate"},
		{"GetAtt without attribute", "v: !GetAtt Queue", "want Resource.Attribute"},
		{"duplicate key", "a: 1\na: 2", `duplicate key "a"`},
		{"merge key", "base: &b {x: 1}\nv:\n  <<: *b", "merge keys"},
		{"not YAML", "a: [", "did not find expected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// resolver answers from a map; conditions as "Condition <name>".
func resolver(m map[string]string) Resolver {
	return func(r Ref) (string, error) {
		if v, ok := m[r.String()]; ok {
			return v, nil
		}
		return "", fmt.Errorf("unknown %s", r)
	}
}

func TestResolve(t *testing.T) {
	refs := resolver(map[string]string{
		"Table": "pccc-table", "Queue.Arn": "arn:aws:sqs:r:1:q", "AWS::Region": "ap-northeast-2",
		"SecretsName": "pccc/dev", "Condition IsProd": "false", "Origins": "a.example,b.example",
	})
	tests := []struct {
		name, yaml, want, err string
	}{
		{"literal", `v: plain`, "plain", ""},
		{"number literal", `v: 10`, "10", ""},
		{"Ref", `v: !Ref Table`, "pccc-table", ""},
		{"GetAtt", `v: !GetAtt Queue.Arn`, "arn:aws:sqs:r:1:q", ""},
		{"Sub refs, attributes, pseudo and escape", `v: !Sub "${Table}|${Queue.Arn}|${AWS::Region}|${!Literal}"`, "pccc-table|arn:aws:sqs:r:1:q|ap-northeast-2|${Literal}", ""},
		{"Sub dynamic reference", `v: !Sub "{{resolve:secretsmanager:${SecretsName}:SecretString:hmacKey}}"`, "{{resolve:secretsmanager:pccc/dev:SecretString:hmacKey}}", ""},
		{"Sub list variables win", "v: !Sub ['${Table}-${X}', {X: !Ref AWS::Region, Table: mine}]", "mine-ap-northeast-2", ""},
		{"Join", `v: !Join ["-", [a, !Ref Table]]`, "a-pccc-table", ""},
		{"Select from Split", `v: !Select [1, !Split [",", !Ref Origins]]`, "b.example", ""},
		{"Select from a list parameter", `v: !Select [0, !Ref Origins]`, "a.example", ""},
		{"If false branch", `v: !If [IsProd, big, small]`, "small", ""},
		{"Equals inside If via Condition", `v: !If [IsProd, !Ref Table, !Sub "x-${Table}"]`, "x-pccc-table", ""},
		{"unknown ref", `v: !Ref Nope`, "", "unknown Nope"},
		{"unsupported function", `v: !GetAZs ""`, "", "Fn::GetAZs is not supported"},
		{"Select out of range", `v: !Select [5, [a]]`, "", "out of range"},
		{"unclosed Sub", `v: !Sub "${Table"`, "", "unclosed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := decode([]byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got, err := NewValue(raw.(map[string]any)["v"]).Resolve(refs)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestResolveList(t *testing.T) {
	refs := resolver(map[string]string{"Origin": "http://a", "List": "x, y"})
	tests := []struct {
		yaml string
		want []string
	}{
		{"v: [!Ref Origin, http://b]", []string{"http://a", "http://b"}},
		{"v: !Ref List", []string{"x", "y"}},
		{"v: ~", nil},
	}
	for _, tt := range tests {
		raw, err := decode([]byte(tt.yaml))
		if err != nil {
			t.Fatal(err)
		}
		got, err := NewValue(raw.(map[string]any)["v"]).ResolveList(refs)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: = %q, %v; want %q", tt.yaml, got, err, tt.want)
		}
	}
}

const sample = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  LogLevel: {Type: String, Default: info}
  Flag: {Type: String, Default: "true", AllowedValues: ["true", "false"]}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function:
    Runtime: provided.al2023
    Timeout: 10
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        LOG_LEVEL: !Ref LogLevel
        SHARED: global
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: [http://localhost:3000]
        ExposeHeaders: [X-Request-Id]
  Web:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/web/
      Timeout: 5
      Environment:
        Variables:
          SHARED: own
          QUEUE_URL: !Ref Commands
      Events:
        Get:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Path: "/v1/things/{id}", Method: get}
        Catch:
          Type: HttpApi
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/worker
      ReservedConcurrentExecutions: 5
      Events:
        Jobs:
          Type: SQS
          Properties:
            Queue: !GetAtt Commands.Arn
            BatchSize: 5
            FunctionResponseTypes: [ReportBatchItemFailures]
            ScalingConfig: {MaximumConcurrency: 4}
        Nightly:
          Type: Schedule
          Properties: {Schedule: "cron(0 3 * * ? *)", Input: '{"kind":"nightly"}'}
        Tick:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(5 minutes), State: DISABLED, ScheduleExpressionTimezone: Asia/Seoul}
  Commands:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt CommandsDLQ.Arn
        maxReceiveCount: 3
  CommandsDLQ:
    Type: AWS::SQS::Queue
  Exports:
    Type: AWS::S3::Bucket
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: PK, AttributeType: S}
        - {AttributeName: GSI1PK, AttributeType: S}
      KeySchema: [{AttributeName: PK, KeyType: HASH}]
      GlobalSecondaryIndexes:
        - IndexName: GSI1
          KeySchema: [{AttributeName: GSI1PK, KeyType: HASH}]
          Projection: {ProjectionType: KEYS_ONLY}
      TimeToLiveSpecification: {AttributeName: ttl, Enabled: true}
Outputs:
  Url: {Value: !Sub "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/"}
`

func TestParse(t *testing.T) {
	tpl, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.Transform; !reflect.DeepEqual(got, []string{"AWS::Serverless-2016-10-31"}) {
		t.Errorf("Transform = %v", got)
	}
	if p := tpl.Parameters["Stage"]; p.Default != "dev" || !p.HasDefault || !reflect.DeepEqual(p.AllowedValues, []string{"dev", "prod"}) {
		t.Errorf("Stage = %+v", p)
	}
	if len(tpl.Functions) != 2 || tpl.Functions[0].LogicalID != "Web" || tpl.Functions[1].LogicalID != "Worker" {
		t.Fatalf("functions = %+v", tpl.Functions)
	}
	web, worker := tpl.Functions[0], tpl.Functions[1]

	t.Run("globals merged", func(t *testing.T) {
		lits := map[string]string{}
		for k, v := range web.Env {
			if s, ok := v.Literal(); ok {
				lits[k] = s
			} else if r, ok := v.RefTarget(); ok {
				lits[k] = "ref:" + r.String()
			}
		}
		want := map[string]string{"TABLE_NAME": "ref:Table", "LOG_LEVEL": "ref:LogLevel", "SHARED": "own", "QUEUE_URL": "ref:Commands"}
		if !reflect.DeepEqual(lits, want) {
			t.Errorf("Web env = %v, want %v", lits, want)
		}
		if s, _ := worker.Env["SHARED"].Literal(); s != "global" {
			t.Errorf("Worker SHARED = %q, want the global value", s)
		}
		if web.Timeout != 5 || worker.Timeout != 10 || web.Runtime != "provided.al2023" || web.MemorySize != 128 {
			t.Errorf("scalars: web %d %s %d, worker %d", web.Timeout, web.Runtime, web.MemorySize, worker.Timeout)
		}
		if web.Name() != "web" || worker.Name() != "worker" || worker.ReservedConcurrency != 5 {
			t.Errorf("names %q %q, reserved %d", web.Name(), worker.Name(), worker.ReservedConcurrency)
		}
	})

	t.Run("routes", func(t *testing.T) {
		want := []Route{
			{Function: "Web", Event: "Catch", Method: "ANY", Path: "$default"},
			{Function: "Web", Event: "Get", API: "Api", Method: "GET", Path: "/v1/things/{id}"},
		}
		if !reflect.DeepEqual(web.Routes, want) {
			t.Errorf("routes = %+v", web.Routes)
		}
		if k := web.Routes[1].RouteKey(); k != "GET /v1/things/{id}" {
			t.Errorf("RouteKey = %q", k)
		}
	})

	t.Run("event sources and schedules", func(t *testing.T) {
		want := []SQSSource{{Function: "Worker", Event: "Jobs", Queue: "Commands", BatchSize: 5, ReportBatchItemFailures: true, MaximumConcurrency: 4, Enabled: true}}
		if !reflect.DeepEqual(worker.SQSSources, want) {
			t.Errorf("SQS = %+v", worker.SQSSources)
		}
		wantS := []Schedule{
			{Function: "Worker", Event: "Nightly", LogicalID: "WorkerNightly", Type: "Schedule", Expression: "cron(0 3 * * ? *)", Enabled: true, Input: `{"kind":"nightly"}`},
			{Function: "Worker", Event: "Tick", LogicalID: "WorkerTick", Type: "ScheduleV2", Expression: "rate(5 minutes)", Timezone: "Asia/Seoul", Enabled: false},
		}
		if !reflect.DeepEqual(worker.Schedules, wantS) {
			t.Errorf("schedules = %+v", worker.Schedules)
		}
	})

	t.Run("queues, tables, buckets, APIs", func(t *testing.T) {
		wantQ := []Queue{
			{LogicalID: "Commands", VisibilityTimeout: 60, MessageRetention: 345600, DLQ: "CommandsDLQ", MaxReceiveCount: 3},
			{LogicalID: "CommandsDLQ", VisibilityTimeout: 30, MessageRetention: 345600},
		}
		if !reflect.DeepEqual(tpl.Queues, wantQ) {
			t.Errorf("queues = %+v", tpl.Queues)
		}
		wantT := []Table{{
			LogicalID: "Table", BillingMode: "PAY_PER_REQUEST",
			AttributeDefinitions: []AttributeDefinition{{"PK", "S"}, {"GSI1PK", "S"}},
			KeySchema:            []KeyElement{{"PK", "HASH"}},
			GSIs:                 []Index{{Name: "GSI1", KeySchema: []KeyElement{{"GSI1PK", "HASH"}}, ProjectionType: "KEYS_ONLY"}},
			TTLAttribute:         "ttl",
		}}
		if !reflect.DeepEqual(tpl.Tables, wantT) {
			t.Errorf("tables = %+v", tpl.Tables)
		}
		if !reflect.DeepEqual(tpl.Buckets, []string{"Exports"}) {
			t.Errorf("buckets = %v", tpl.Buckets)
		}
		if len(tpl.HTTPAPIs) != 1 || tpl.HTTPAPIs[0].Cors == nil {
			t.Fatalf("APIs = %+v", tpl.HTTPAPIs)
		}
		if got, _ := tpl.HTTPAPIs[0].Cors.ExposeHeaders.ResolveList(nil); !reflect.DeepEqual(got, []string{"X-Request-Id"}) {
			t.Errorf("ExposeHeaders = %v", got)
		}
	})

	t.Run("conditions and outputs", func(t *testing.T) {
		params := func(r Ref) (string, error) { return tpl.Param(r.Name) }
		if on, err := tpl.Condition("IsProd", params); err != nil || on {
			t.Errorf("IsProd = %v, %v", on, err)
		}
		url, err := tpl.Outputs["Url"].Resolve(func(r Ref) (string, error) {
			return map[string]string{"Api": "abc", "AWS::Region": "ap-northeast-2", "AWS::URLSuffix": "amazonaws.com"}[r.Name], nil
		})
		if err != nil || url != "https://abc.execute-api.ap-northeast-2.amazonaws.com/" {
			t.Errorf("Url = %q, %v", url, err)
		}
	})
}

func TestParseErrors(t *testing.T) {
	fn := func(events string) string {
		return "Resources:\n  Q: {Type: AWS::SQS::Queue}\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: functions/f\n      Events:\n" + events
	}
	tests := []struct{ name, yaml, want string }{
		{"unsupported event", fn("        S3:\n          Type: S3\n"), `event type "S3" is not supported`},
		{"queue not GetAtt Arn", fn("        Q:\n          Type: SQS\n          Properties: {Queue: !Ref Q}\n"), "Queue must be !GetAtt <Queue>.Arn"},
		{"queue of another type", fn("        Q:\n          Type: SQS\n          Properties: {Queue: !GetAtt F.Arn}\n"), "is not an AWS::SQS::Queue"},
		{"big batch without window", fn("        Q:\n          Type: SQS\n          Properties: {Queue: !GetAtt Q.Arn, BatchSize: 100}\n"), "MaximumBatchingWindowInSeconds"},
		{"route without method", fn("        H:\n          Type: HttpApi\n          Properties: {Path: /x}\n"), "Method is required"},
		{"schedule without expression", fn("        T:\n          Type: Schedule\n          Properties: {}\n"), "no schedule expression"},
		{"no CodeUri", "Resources:\n  F: {Type: AWS::Serverless::Function, Properties: {}}\n", "has no CodeUri"},
		{"bad default", "Parameters:\n  P: {Type: String, Default: x, AllowedValues: [a]}\nResources:\n  B: {Type: AWS::S3::Bucket}\n", "not among AllowedValues"},
		{"undefined key attribute", "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      KeySchema: [{AttributeName: PK, KeyType: HASH}]\n", "PK is not in AttributeDefinitions"},
		{"redrive to nowhere", "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      RedrivePolicy: {deadLetterTargetArn: !GetAtt Gone.Arn, maxReceiveCount: 2}\n", "dead-letter target Gone"},
		{"duplicate route", fn("        A:\n          Type: HttpApi\n          Properties: {Path: /x, Method: GET}\n        B:\n          Type: HttpApi\n          Properties: {Path: /x, Method: get}\n"), "route GET /x is declared by both"},
		{"no resources", "Parameters: {}\n", "no Resources"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// The real template must parse, and what pccc relies on must be there.
func TestRepositoryTemplate(t *testing.T) {
	tpl, err := Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f, ok := tpl.Function("RealNameFunction")
	if !ok {
		t.Fatal("no RealNameFunction")
	}
	if f.Name() != "realname" || f.Runtime != "provided.al2023" || f.Handler != "bootstrap" || !reflect.DeepEqual(f.Architectures, []string{"arm64"}) {
		t.Errorf("RealNameFunction = %+v", f)
	}
	for _, k := range []string{"TABLE_NAME", "PCCC_ENV", "LOG_LEVEL", "BUREAU_URL", "PCCC_KEYS", "PCCC_KEYS_BUCKET"} {
		if f.Env[k].IsZero() {
			t.Errorf("RealNameFunction has no %s", k)
		}
	}
	// Every parameter default must satisfy the conditions and resolve.
	params := func(r Ref) (string, error) {
		if r.Condition {
			on, err := tpl.Condition(r.Name, func(r Ref) (string, error) { return tpl.Param(r.Name) })
			return fmt.Sprint(on), err
		}
		return tpl.Param(r.Name)
	}
	if on, err := tpl.Condition("WriteAccessLogs", params); err != nil || on {
		t.Errorf("WriteAccessLogs = %v, %v; want false by default", on, err)
	}
	// No function's environment holds a key or a reference to one: the
	// environment names rings (PCCC_KEYS) and where they are, no more.
	for _, fn := range tpl.Functions {
		for k, v := range fn.Env {
			text := fmt.Sprint(v)
			if strings.Contains(text, "resolve:") || strings.Contains(strings.ToUpper(k), "SECRET") ||
				(strings.Contains(k, "KEY") && k != "PCCC_KEYS" && k != "PCCC_KEYS_BUCKET") {
				t.Errorf("%s's environment has %s = %v: keys come from the keys bucket", fn.LogicalID, k, text)
			}
		}
	}
	if kinds, err := f.Env["PCCC_KEYS"].Resolve(params); err != nil || kinds != "hmac,data,origin" {
		t.Errorf("RealNameFunction PCCC_KEYS = %q, %v", kinds, err)
	}
}
