package e2e

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/infra/samtemplate"
	"github.com/pccc/pccc/shared/dynamo"
)

// The adapters' unit tests create their table from dynamo.TableSchema; the
// runner and AWS create it from template.yaml. This keeps the two the same.
func TestTableSchemaMatchesTemplate(t *testing.T) {
	tpl, err := samtemplate.Load(filepath.Join(repoRoot(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl.Tables) != 1 {
		t.Fatalf("template has %d tables, the adapters assume one", len(tpl.Tables))
	}
	tt := tpl.Tables[0]
	var fromTemplate []string
	for _, a := range tt.AttributeDefinitions {
		fromTemplate = append(fromTemplate, "attr "+a.Name+" "+a.Type)
	}
	for _, k := range tt.KeySchema {
		fromTemplate = append(fromTemplate, "key "+k.Name+" "+k.KeyType)
	}
	for _, g := range tt.GSIs {
		for _, k := range g.KeySchema {
			fromTemplate = append(fromTemplate, fmt.Sprintf("gsi %s %s %s %s", g.Name, k.Name, k.KeyType, g.ProjectionType))
		}
	}
	fromTemplate = append(fromTemplate, "billing "+tt.BillingMode, "ttl "+tt.TTLAttribute)

	s := dynamo.TableSchema("x")
	var fromCode []string
	for _, a := range s.AttributeDefinitions {
		fromCode = append(fromCode, "attr "+*a.AttributeName+" "+string(a.AttributeType))
	}
	for _, k := range s.KeySchema {
		fromCode = append(fromCode, "key "+*k.AttributeName+" "+string(k.KeyType))
	}
	for _, g := range s.GlobalSecondaryIndexes {
		for _, k := range g.KeySchema {
			fromCode = append(fromCode, fmt.Sprintf("gsi %s %s %s %s", *g.IndexName, *k.AttributeName, k.KeyType, g.Projection.ProjectionType))
		}
	}
	fromCode = append(fromCode, "billing "+string(s.BillingMode), "ttl "+dynamo.AttrTTL)
	if s.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing mode %s", s.BillingMode)
	}
	sort.Strings(fromTemplate)
	sort.Strings(fromCode)
	if strings.Join(fromTemplate, "\n") != strings.Join(fromCode, "\n") {
		t.Fatalf("dynamo.TableSchema and template.yaml differ:\ntemplate:\n%s\ncode:\n%s",
			strings.Join(fromTemplate, "\n"), strings.Join(fromCode, "\n"))
	}
}
