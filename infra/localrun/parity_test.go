package localrun

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"gopkg.in/yaml.v3"

	"github.com/pccc/pccc/functions"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/samtemplate"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/testkit"
)

// The parity test holds the runner to the real template.yaml: it starts a
// runner on it, asks it (and through it the stack: DescribeTable,
// GetQueueAttributes) what it built, and compares that with what a walk of
// the YAML written here, independently of samtemplate, says the template
// declares. A resource, route, event source or schedule added to the
// template that the runner misses, or gets wrong, fails this test.

func repoRoot(t *testing.T) string { return testkit.Root(t) }

// stubRegistry has an entry for every real function whose builder makes a
// trivial handler: parity is about what is wired, not what the functions do,
// and must not depend on every function's configuration being complete.
func stubRegistry() map[string]platform.Builder {
	reg := map[string]platform.Builder{}
	for name := range functions.Registry {
		reg[name] = func(context.Context, platform.Deps) (any, error) {
			return func(context.Context, json.RawMessage) (string, error) { return "ok", nil }, nil
		}
	}
	return reg
}

func TestParityWithTemplate(t *testing.T) {
	root := repoRoot(t)
	eachStack(t, func(t *testing.T, stack *localstack.Stack) {
		checkParity(t, stack, filepath.Join(root, "template.yaml"), stubRegistry())
	})
}

// The real template has no queues or schedules yet; the test template has
// all of them, so the same comparison covers DLQs, maxReceiveCount, event
// sources and schedules too.
func TestParityWithTestTemplate(t *testing.T) {
	eachStack(t, func(t *testing.T, stack *localstack.Stack) {
		seen := &sqsLog{receives: map[string]int{}, records: map[string]events.SQSMessage{}}
		checkParity(t, stack, testTemplate, testRegistry(seen))
	})
}

func checkParity(t *testing.T, stack *localstack.Stack, template string, reg map[string]platform.Builder) {
	want := walkTemplate(t, template)
	r := startRunner(t, Options{TemplatePath: template, Stack: stack, Registry: reg})
	got, err := r.Inventory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Physical names are the runner's to choose; they must follow the
	// documented scheme.
	for i := range want.Tables {
		want.Tables[i].Name = r.names.prefix + want.Tables[i].LogicalID
	}
	for i := range want.Queues {
		want.Queues[i].Name = r.names.prefix + want.Queues[i].LogicalID
		if want.Queues[i].FIFO {
			want.Queues[i].Name += ".fifo"
		}
	}
	want.sort()
	compare := []struct {
		what      string
		got, want any
	}{
		{"functions", got.Functions, want.Functions},
		{"routes", got.Routes, want.Routes},
		{"tables", got.Tables, want.Tables},
		{"queues", got.Queues, want.Queues},
		{"buckets", got.Buckets, want.Buckets},
		{"event sources", got.EventSources, want.EventSources},
		{"schedules", got.Schedules, want.Schedules},
	}
	for _, c := range compare {
		if !reflect.DeepEqual(c.got, c.want) {
			g, _ := json.MarshalIndent(c.got, "", "  ")
			w, _ := json.MarshalIndent(c.want, "", "  ")
			t.Errorf("%s differ from %s\nrunner:   %s\ntemplate: %s", c.what, template, g, w)
		}
	}
	if len(got.Routes) == 0 || len(got.Tables) == 0 {
		t.Errorf("%s: the runner built no routes or no tables", template)
	}
	// And every route reaches its function rather than a 404.
	for _, rt := range got.Routes {
		method, path, _ := strings.Cut(rt.RouteKey, " ")
		if method == "ANY" {
			method = "GET"
		}
		path = strings.NewReplacer("{", "", "}", "", "+", "").Replace(path)
		if rep := do(t, method, r.URL()+path, nil, ""); rep.status == 404 {
			t.Errorf("%s: 404", rt.RouteKey)
		}
	}
}

// Every function of the template has a registry entry, a main.go and a
// Makefile target for sam build; every registry entry and function folder
// is in the template.
func TestFunctionsMatchTemplate(t *testing.T) {
	root := repoRoot(t)
	inv := walkTemplate(t, filepath.Join(root, "template.yaml"))
	makefile, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	inTemplate := map[string]bool{}
	for _, f := range inv.Functions {
		inTemplate[f.Name] = true
		if _, ok := functions.Registry[f.Name]; !ok {
			t.Errorf("%s (CodeUri functions/%s) has no entry in functions.Registry", f.LogicalID, f.Name)
		}
		if _, err := os.Stat(filepath.Join(root, "functions", f.Name, "main.go")); err != nil {
			t.Errorf("%s: functions/%s/main.go: %v", f.LogicalID, f.Name, err)
		}
		// sam build (BuildMethod: makefile) runs make build-<LogicalId>.
		target := "\nbuild-" + f.LogicalID + ":"
		i := strings.Index(string(makefile), target)
		if i < 0 {
			t.Errorf("Makefile has no target build-%s for sam build", f.LogicalID)
		} else if recipe, _, _ := strings.Cut(string(makefile[i+len(target):]), "\n\n"); !strings.Contains(recipe, "./functions/"+f.Name) {
			t.Errorf("Makefile target build-%s does not build ./functions/%s", f.LogicalID, f.Name)
		}
	}
	for name := range functions.Registry {
		if !inTemplate[name] {
			t.Errorf("functions.Registry has %q, which no function in template.yaml uses", name)
		}
	}
	mains, _ := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	for _, m := range mains {
		if name := filepath.Base(filepath.Dir(m)); !inTemplate[name] {
			t.Errorf("functions/%s/main.go is not deployed by template.yaml", name)
		}
	}
}

// walkTemplate reads what template.yaml declares straight from the YAML
// nodes, with none of samtemplate's code: it knows the tag forms the
// template uses (!GetAtt X.Arn, !Ref X) and the SAM defaults.
func walkTemplate(t *testing.T, path string) Inventory {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	get := func(n *yaml.Node, key string) *yaml.Node {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	text := func(n *yaml.Node, def string) string {
		if n == nil {
			return def
		}
		return n.Value
	}
	num := func(n *yaml.Node, def int) int {
		if n == nil {
			return def
		}
		if n.Tag == "!Ref" {
			// A parameter's default, as a deploy without overrides has it.
			if d := get(get(get(doc.Content[0], "Parameters"), n.Value), "Default"); d != nil {
				n = d
			}
		}
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			t.Fatalf("line %d: %q is not a number", n.Line, n.Value)
		}
		return v
	}
	// arnOf reads "!GetAtt X.Arn" or "Fn::GetAtt: [X, Arn]".
	arnOf := func(n *yaml.Node) string {
		if n == nil {
			return ""
		}
		if n.Tag == "!GetAtt" && n.Kind == yaml.ScalarNode {
			return strings.TrimSuffix(n.Value, ".Arn")
		}
		if l := get(n, "Fn::GetAtt"); l != nil && len(l.Content) == 2 {
			return l.Content[0].Value
		}
		if n.Tag == "!GetAtt" && len(n.Content) == 2 {
			return n.Content[0].Value
		}
		t.Fatalf("line %d: not a GetAtt", n.Line)
		return ""
	}
	keys := func(n *yaml.Node) []samtemplate.KeyElement {
		var out []samtemplate.KeyElement
		for _, k := range n.Content {
			out = append(out, samtemplate.KeyElement{Name: text(get(k, "AttributeName"), ""), KeyType: text(get(k, "KeyType"), "")})
		}
		return out
	}

	var inv Inventory
	resources := get(doc.Content[0], "Resources")
	for i := 0; i+1 < len(resources.Content); i += 2 {
		id, res := resources.Content[i].Value, resources.Content[i+1]
		props := get(res, "Properties")
		switch text(get(res, "Type"), "") {
		case "AWS::Serverless::Function":
			inv.Functions = append(inv.Functions, InventoryFunction{LogicalID: id, Name: filepath.Base(text(get(props, "CodeUri"), ""))})
			events := get(props, "Events")
			if events == nil {
				continue
			}
			for j := 0; j+1 < len(events.Content); j += 2 {
				name, ev := events.Content[j].Value, events.Content[j+1]
				ep := get(ev, "Properties")
				switch typ := text(get(ev, "Type"), ""); typ {
				case "HttpApi":
					inv.Routes = append(inv.Routes, InventoryRoute{RouteKey: strings.ToUpper(text(get(ep, "Method"), "")) + " " + text(get(ep, "Path"), ""), Function: id})
				case "SQS":
					es := InventoryEventSource{
						Function: id, Queue: arnOf(get(ep, "Queue")), BatchSize: num(get(ep, "BatchSize"), 10),
						MaximumConcurrency: num(get(get(ep, "ScalingConfig"), "MaximumConcurrency"), 0),
						Enabled:            text(get(ep, "Enabled"), "true") == "true",
					}
					es.Pollers = es.MaximumConcurrency
					if es.Pollers == 0 {
						es.Pollers = 2 // the runner's documented default
					}
					if frt := get(ep, "FunctionResponseTypes"); frt != nil {
						for _, v := range frt.Content {
							es.ReportBatchItemFailures = es.ReportBatchItemFailures || v.Value == "ReportBatchItemFailures"
						}
					}
					inv.EventSources = append(inv.EventSources, es)
				case "Schedule", "ScheduleV2":
					s := InventorySchedule{LogicalID: id + name, Function: id, Input: text(get(ep, "Input"), "")}
					if typ == "Schedule" {
						s.Expression = text(get(ep, "Schedule"), "")
						s.Enabled = text(get(ep, "Enabled"), "true") == "true"
					} else {
						s.Expression = text(get(ep, "ScheduleExpression"), "")
						s.Enabled = text(get(ep, "State"), "ENABLED") == "ENABLED"
					}
					inv.Schedules = append(inv.Schedules, s)
				default:
					t.Fatalf("%s event %s: type %s is not known to this test", id, name, typ)
				}
			}
		case "AWS::DynamoDB::Table":
			tb := InventoryTable{LogicalID: id, KeySchema: keys(get(props, "KeySchema"))}
			for _, a := range get(props, "AttributeDefinitions").Content {
				tb.AttributeDefinitions = append(tb.AttributeDefinitions, samtemplate.AttributeDefinition{Name: text(get(a, "AttributeName"), ""), Type: text(get(a, "AttributeType"), "")})
			}
			if gsis := get(props, "GlobalSecondaryIndexes"); gsis != nil {
				for _, g := range gsis.Content {
					idx := samtemplate.Index{Name: text(get(g, "IndexName"), ""), KeySchema: keys(get(g, "KeySchema")), ProjectionType: text(get(get(g, "Projection"), "ProjectionType"), "")}
					if nka := get(get(g, "Projection"), "NonKeyAttributes"); nka != nil {
						for _, a := range nka.Content {
							idx.NonKeyAttributes = append(idx.NonKeyAttributes, a.Value)
						}
					}
					tb.GSIs = append(tb.GSIs, idx)
				}
			}
			if ttl := get(props, "TimeToLiveSpecification"); ttl != nil && text(get(ttl, "Enabled"), "") == "true" {
				tb.TTLAttribute = text(get(ttl, "AttributeName"), "")
			}
			inv.Tables = append(inv.Tables, tb)
		case "AWS::SQS::Queue":
			q := InventoryQueue{LogicalID: id, VisibilityTimeout: num(get(props, "VisibilityTimeout"), 30), FIFO: text(get(props, "FifoQueue"), "") == "true"}
			if rp := get(props, "RedrivePolicy"); rp != nil {
				q.DLQ = arnOf(get(rp, "deadLetterTargetArn"))
				q.MaxReceiveCount = num(get(rp, "maxReceiveCount"), 0)
			}
			inv.Queues = append(inv.Queues, q)
		case "AWS::S3::Bucket":
			inv.Buckets = append(inv.Buckets, id)
		}
	}
	sort.Strings(inv.Buckets)
	return inv
}
