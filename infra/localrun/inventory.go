package localrun

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pccc/pccc/infra/samtemplate"
)

// Inventory is what the runner actually built: tables and queues as the
// stack describes them, and the routes, event sources and schedules it
// serves and runs. Slices are sorted so two inventories compare equal.
type Inventory struct {
	Functions    []InventoryFunction
	Routes       []InventoryRoute
	Tables       []InventoryTable
	Queues       []InventoryQueue
	Buckets      []string // logical ids of the buckets found in the stack
	EventSources []InventoryEventSource
	Schedules    []InventorySchedule
}

// InventoryFunction is a built function.
type InventoryFunction struct {
	LogicalID string
	Name      string // registry name
}

// InventoryRoute is a served route.
type InventoryRoute struct {
	RouteKey string // "POST /v1/verifications"
	Function string // logical id
}

// InventoryTable is a table as DescribeTable / DescribeTimeToLive report it.
type InventoryTable struct {
	LogicalID            string
	Name                 string
	AttributeDefinitions []samtemplate.AttributeDefinition // sorted by name
	KeySchema            []samtemplate.KeyElement
	GSIs                 []samtemplate.Index // sorted by name
	TTLAttribute         string
}

// InventoryQueue is a queue as GetQueueAttributes reports it.
type InventoryQueue struct {
	LogicalID         string
	Name              string
	VisibilityTimeout int
	// DLQ is the logical id of the queue the redrive policy names.
	DLQ             string
	MaxReceiveCount int
	FIFO            bool
}

// InventoryEventSource is a running SQS event source mapping.
type InventoryEventSource struct {
	Function                string
	Queue                   string // logical id
	BatchSize               int
	ReportBatchItemFailures bool
	MaximumConcurrency      int
	Pollers                 int
	Enabled                 bool
}

// InventorySchedule is a schedule the runner fires.
type InventorySchedule struct {
	LogicalID  string
	Function   string
	Expression string
	Enabled    bool
	Input      string
}

// Inventory asks the stack what exists and lists what the runner serves.
func (r *Runner) Inventory(ctx context.Context) (Inventory, error) {
	var inv Inventory
	for _, f := range r.functions {
		inv.Functions = append(inv.Functions, InventoryFunction{LogicalID: f.id, Name: f.name})
	}
	for _, rt := range r.routes {
		inv.Routes = append(inv.Routes, InventoryRoute{RouteKey: rt.RouteKey(), Function: rt.fn.id})
	}
	for _, g := range r.pollers {
		inv.EventSources = append(inv.EventSources, InventoryEventSource{
			Function: g.fn.id, Queue: g.Queue, BatchSize: g.BatchSize,
			ReportBatchItemFailures: g.ReportBatchItemFailures, MaximumConcurrency: g.MaximumConcurrency,
			Pollers: g.pollers, Enabled: g.Enabled,
		})
	}
	for _, s := range r.schedules {
		inv.Schedules = append(inv.Schedules, InventorySchedule{
			LogicalID: s.LogicalID, Function: s.fn.id, Expression: s.Expression, Enabled: s.Enabled, Input: s.Input,
		})
	}
	for _, t := range r.tpl.Tables {
		it, err := r.describeTable(ctx, t.LogicalID)
		if err != nil {
			return Inventory{}, err
		}
		inv.Tables = append(inv.Tables, it)
	}
	arnToID := map[string]string{}
	for id, q := range r.names.queues {
		arnToID[q.arn] = id
	}
	for _, q := range r.tpl.Queues {
		iq, err := r.describeQueue(ctx, q.LogicalID, arnToID)
		if err != nil {
			return Inventory{}, err
		}
		inv.Queues = append(inv.Queues, iq)
	}
	if len(r.tpl.Buckets) > 0 {
		out, err := r.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			return Inventory{}, fmt.Errorf("list buckets: %w", err)
		}
		byName := map[string]string{}
		for _, id := range r.tpl.Buckets {
			byName[r.names.bucket(id)] = id
		}
		for _, b := range out.Buckets {
			if id, ok := byName[aws.ToString(b.Name)]; ok {
				inv.Buckets = append(inv.Buckets, id)
			}
		}
	}
	inv.sort()
	return inv, nil
}

func (r *Runner) describeTable(ctx context.Context, id string) (InventoryTable, error) {
	name := r.names.table(id)
	out, err := r.clients.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		return InventoryTable{}, fmt.Errorf("describe table %s: %w", id, err)
	}
	d := out.Table
	it := InventoryTable{LogicalID: id, Name: aws.ToString(d.TableName)}
	for _, a := range d.AttributeDefinitions {
		it.AttributeDefinitions = append(it.AttributeDefinitions, samtemplate.AttributeDefinition{Name: aws.ToString(a.AttributeName), Type: string(a.AttributeType)})
	}
	if len(it.AttributeDefinitions) == 0 {
		// minidyn leaves AttributeDefinitions out of DescribeTable; report
		// what CreateTable was given (DynamoDB Local does describe them,
		// so the parity test checks the real answer on that stack).
		if t, ok := r.tableDef(id); ok {
			it.AttributeDefinitions = append(it.AttributeDefinitions, t.AttributeDefinitions...)
		}
	}
	for _, k := range d.KeySchema {
		it.KeySchema = append(it.KeySchema, samtemplate.KeyElement{Name: aws.ToString(k.AttributeName), KeyType: string(k.KeyType)})
	}
	for _, g := range d.GlobalSecondaryIndexes {
		idx := samtemplate.Index{Name: aws.ToString(g.IndexName)}
		for _, k := range g.KeySchema {
			idx.KeySchema = append(idx.KeySchema, samtemplate.KeyElement{Name: aws.ToString(k.AttributeName), KeyType: string(k.KeyType)})
		}
		if g.Projection != nil {
			idx.ProjectionType = string(g.Projection.ProjectionType)
			idx.NonKeyAttributes = g.Projection.NonKeyAttributes
		}
		it.GSIs = append(it.GSIs, idx)
	}
	ttl, err := r.clients.DynamoDB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err == nil && ttl.TimeToLiveDescription != nil {
		switch ttl.TimeToLiveDescription.TimeToLiveStatus {
		case "ENABLED", "ENABLING":
			it.TTLAttribute = aws.ToString(ttl.TimeToLiveDescription.AttributeName)
		}
	}
	return it, nil
}

func (r *Runner) tableDef(id string) (samtemplate.Table, bool) {
	for _, t := range r.tpl.Tables {
		if t.LogicalID == id {
			return t, true
		}
	}
	return samtemplate.Table{}, false
}

func (r *Runner) describeQueue(ctx context.Context, id string, arnToID map[string]string) (InventoryQueue, error) {
	q := r.names.queues[id]
	out, err := r.clients.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(q.url), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		return InventoryQueue{}, fmt.Errorf("queue %s attributes: %w", id, err)
	}
	a := out.Attributes
	iq := InventoryQueue{LogicalID: id, Name: q.name, FIFO: a["FifoQueue"] == "true"}
	iq.VisibilityTimeout, _ = strconv.Atoi(a["VisibilityTimeout"])
	if rp := a["RedrivePolicy"]; rp != "" {
		var p struct {
			DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
			MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
		}
		if err := json.Unmarshal([]byte(rp), &p); err != nil {
			return InventoryQueue{}, fmt.Errorf("queue %s RedrivePolicy %q: %w", id, rp, err)
		}
		iq.DLQ = arnToID[p.DeadLetterTargetArn]
		if iq.DLQ == "" {
			iq.DLQ = "unknown ARN " + p.DeadLetterTargetArn
		}
		// A number or a string, depending on who wrote it.
		n, err := strconv.Atoi(string(p.MaxReceiveCount))
		if err != nil {
			var s string
			_ = json.Unmarshal(p.MaxReceiveCount, &s)
			n, _ = strconv.Atoi(s)
		}
		iq.MaxReceiveCount = n
	}
	return iq, nil
}

func (inv *Inventory) sort() {
	sort.Slice(inv.Functions, func(i, j int) bool { return inv.Functions[i].LogicalID < inv.Functions[j].LogicalID })
	sort.Slice(inv.Routes, func(i, j int) bool { return inv.Routes[i].RouteKey < inv.Routes[j].RouteKey })
	sort.Slice(inv.Tables, func(i, j int) bool { return inv.Tables[i].LogicalID < inv.Tables[j].LogicalID })
	for _, t := range inv.Tables {
		sort.Slice(t.AttributeDefinitions, func(i, j int) bool { return t.AttributeDefinitions[i].Name < t.AttributeDefinitions[j].Name })
		sort.Slice(t.GSIs, func(i, j int) bool { return t.GSIs[i].Name < t.GSIs[j].Name })
	}
	sort.Slice(inv.Queues, func(i, j int) bool { return inv.Queues[i].LogicalID < inv.Queues[j].LogicalID })
	sort.Strings(inv.Buckets)
	sort.Slice(inv.EventSources, func(i, j int) bool {
		a, b := inv.EventSources[i], inv.EventSources[j]
		return a.Function+" "+a.Queue < b.Function+" "+b.Queue
	})
	sort.Slice(inv.Schedules, func(i, j int) bool { return inv.Schedules[i].LogicalID < inv.Schedules[j].LogicalID })
}
