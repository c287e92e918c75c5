// Package capacity meters the DynamoDB capacity the system consumes: a
// middleware for the SDK client asks every call for its consumed capacity
// (ReturnConsumedCapacity TOTAL) and adds it up, reads and writes apart.
// make bench runs one kind of command at a time with the meter on and
// divides, which gives the read and write units each command costs: the
// figure the capacity plan in BENCHMARKS.md is built on. DynamoDB Local
// reports consumed capacity; the embedded minidyn does not, and the meter
// then counts calls only.
package capacity

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// Units are consumed capacity units.
type Units struct {
	Read, Write float64
	Calls       map[string]int // by operation
	Reported    int            // calls that reported their capacity
}

// Meter adds up consumed capacity. Safe for concurrent use.
type Meter struct {
	mu sync.Mutex
	u  Units
}

// Snapshot returns the totals so far.
func (m *Meter) Snapshot() Units {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.u
	out.Calls = map[string]int{}
	for k, v := range m.u.Calls {
		out.Calls[k] = v
	}
	return out
}

// Sub is the difference between two snapshots.
func (u Units) Sub(before Units) Units {
	d := Units{Read: u.Read - before.Read, Write: u.Write - before.Write, Reported: u.Reported - before.Reported, Calls: map[string]int{}}
	for k, v := range u.Calls {
		if n := v - before.Calls[k]; n != 0 {
			d.Calls[k] = n
		}
	}
	return d
}

func (m *Meter) add(op string, write bool, ccs ...*types.ConsumedCapacity) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.u.Calls == nil {
		m.u.Calls = map[string]int{}
	}
	m.u.Calls[op]++
	reported := false
	for _, cc := range ccs {
		if cc == nil || cc.CapacityUnits == nil {
			continue
		}
		reported = true
		if write {
			m.u.Write += *cc.CapacityUnits
		} else {
			m.u.Read += *cc.CapacityUnits
		}
	}
	if reported {
		m.u.Reported++
	}
}

func ptrs(l []types.ConsumedCapacity) []*types.ConsumedCapacity {
	out := make([]*types.ConsumedCapacity, len(l))
	for i := range l {
		out[i] = &l[i]
	}
	return out
}

// APIOption installs the meter on a DynamoDB client
// (awsclient.Options.DynamoDBAPIOptions).
func (m *Meter) APIOption(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("pcccCapacityMeter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			total := types.ReturnConsumedCapacityTotal
			switch p := in.Parameters.(type) {
			case *dynamodb.GetItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.PutItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.UpdateItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.DeleteItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.QueryInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.BatchGetItemInput:
				p.ReturnConsumedCapacity = total
			case *dynamodb.TransactWriteItemsInput:
				p.ReturnConsumedCapacity = total
			}
			out, md, err := next.HandleInitialize(ctx, in)
			if err != nil {
				return out, md, err
			}
			switch o := out.Result.(type) {
			case *dynamodb.GetItemOutput:
				m.add("GetItem", false, o.ConsumedCapacity)
			case *dynamodb.QueryOutput:
				m.add("Query", false, o.ConsumedCapacity)
			case *dynamodb.BatchGetItemOutput:
				m.add("BatchGetItem", false, ptrs(o.ConsumedCapacity)...)
			case *dynamodb.PutItemOutput:
				m.add("PutItem", true, o.ConsumedCapacity)
			case *dynamodb.UpdateItemOutput:
				m.add("UpdateItem", true, o.ConsumedCapacity)
			case *dynamodb.DeleteItemOutput:
				m.add("DeleteItem", true, o.ConsumedCapacity)
			case *dynamodb.TransactWriteItemsOutput:
				m.add("TransactWriteItems", true, ptrs(o.ConsumedCapacity)...)
			}
			return out, md, err
		}), middleware.Before)
}
