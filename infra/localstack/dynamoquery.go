package localstack

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// The embedded stack's partition reads.
//
// minidyn answers a Query by evaluating the key condition on every item of
// the table, parsing the expression anew for each, so one Query of a
// partition of three items costs the size of the whole table (a campaign's
// counters, summed after every batch and on every read of it, met 30,000
// items a time). The shim keeps the keys of each table it created, sorted
// per partition, from every write that went through it (PutItem,
// UpdateItem, DeleteItem, BatchWriteItem, and its own transactions'
// single-item calls), and answers the plain partition Query itself: a
// Query of the table (no index) whose key condition is `pk = :v` or
// `pk = :v AND begins_with(sk, :p)` on string keys, with nothing else
// asked of it but ConsistentRead, ScanIndexForward and
// ReturnConsumedCapacity. It reads the matching items from minidyn one by
// one (GetItem) and answers them in sort-key order, all in one page, as
// DynamoDB's Query does under its 1 MB page. Any other Query goes to
// minidyn.

// keyIndex is the keys of one table, by partition.
type keyIndex struct {
	hash, rng string // the key schema's attribute names ("" for no range key)
	ok        bool   // both keys are strings: the index can answer
	parts     map[string]map[string]bool
}

// partitionQuery is the Query the shim answers itself.
var partitionQuery = regexp.MustCompile(`^\s*(#?[A-Za-z0-9_]+)\s*=\s*(:[A-Za-z0-9_]+)\s*(?:(?i:AND)\s+begins_with\s*\(\s*(#?[A-Za-z0-9_]+)\s*,\s*(:[A-Za-z0-9_]+)\s*\)\s*)?$`)

type keys struct {
	mu     sync.Mutex
	tables map[string]*keyIndex
}

// created starts an empty index for a table made through the shim.
func (k *keys) created(table string, createBody []byte) {
	var in struct {
		KeySchema []struct {
			AttributeName string
			KeyType       string
		}
		AttributeDefinitions []struct {
			AttributeName string
			AttributeType string
		}
	}
	_ = json.Unmarshal(createBody, &in)
	ix := &keyIndex{parts: map[string]map[string]bool{}}
	for _, ks := range in.KeySchema {
		if ks.KeyType == "HASH" {
			ix.hash = ks.AttributeName
		} else {
			ix.rng = ks.AttributeName
		}
	}
	types := map[string]string{}
	for _, a := range in.AttributeDefinitions {
		types[a.AttributeName] = a.AttributeType
	}
	ix.ok = ix.hash != "" && types[ix.hash] == "S" && (ix.rng == "" || types[ix.rng] == "S")
	k.mu.Lock()
	if k.tables == nil {
		k.tables = map[string]*keyIndex{}
	}
	k.tables[table] = ix
	k.mu.Unlock()
}

func (k *keys) dropped(table string) {
	k.mu.Lock()
	delete(k.tables, table)
	k.mu.Unlock()
}

// stringOf reads a string attribute value ({"S": "..."}).
func stringOf(raw json.RawMessage) (string, bool) {
	var v struct{ S *string }
	if json.Unmarshal(raw, &v) != nil || v.S == nil {
		return "", false
	}
	return *v.S, true
}

// note records that an item with key (or the item itself) was written
// (present) or deleted in table.
func (k *keys) note(table string, item map[string]json.RawMessage, present bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ix := k.tables[table]
	if ix == nil || !ix.ok {
		return
	}
	pk, ok := stringOf(item[ix.hash])
	if !ok {
		return
	}
	sk := ""
	if ix.rng != "" {
		if sk, ok = stringOf(item[ix.rng]); !ok {
			return
		}
	}
	p := ix.parts[pk]
	if present {
		if p == nil {
			p = map[string]bool{}
			ix.parts[pk] = p
		}
		p[sk] = true
	} else if p != nil {
		delete(p, sk)
		if len(p) == 0 {
			delete(ix.parts, pk)
		}
	}
}

// written notes what a successful write call did to the keys.
func (k *keys) written(op string, body []byte) {
	switch op {
	case "PutItem":
		var in struct {
			TableName string
			Item      map[string]json.RawMessage
		}
		if json.Unmarshal(body, &in) == nil {
			k.note(in.TableName, in.Item, true)
		}
	case "UpdateItem", "DeleteItem":
		var in struct {
			TableName string
			Key       map[string]json.RawMessage
		}
		if json.Unmarshal(body, &in) == nil {
			k.note(in.TableName, in.Key, op == "UpdateItem")
		}
	case "BatchWriteItem":
		var in struct {
			RequestItems map[string][]struct {
				PutRequest    *struct{ Item map[string]json.RawMessage }
				DeleteRequest *struct{ Key map[string]json.RawMessage }
			}
		}
		if json.Unmarshal(body, &in) != nil {
			return
		}
		for table, reqs := range in.RequestItems {
			for _, r := range reqs {
				switch {
				case r.PutRequest != nil:
					k.note(table, r.PutRequest.Item, true)
				case r.DeleteRequest != nil:
					k.note(table, r.DeleteRequest.Key, false)
				}
			}
		}
	}
}

// unprocessed gives up the index of every table a BatchWriteItem left
// items of unprocessed (minidyn processes them all; should it not, the
// index no longer knows which were written, and minidyn answers).
func (k *keys) unprocessed(resp []byte) {
	var out struct {
		UnprocessedItems map[string][]json.RawMessage
	}
	if json.Unmarshal(resp, &out) != nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for table, items := range out.UnprocessedItems {
		if ix := k.tables[table]; ix != nil && len(items) > 0 {
			ix.ok = false
		}
	}
}

// partition lists the sort keys of a partition that begin with prefix, in
// order; ok is false when the index cannot answer for the table.
func (k *keys) partition(table, pk, prefix string) (hash, rng string, sks []string, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ix := k.tables[table]
	if ix == nil || !ix.ok {
		return "", "", nil, false
	}
	for sk := range ix.parts[pk] {
		if strings.HasPrefix(sk, prefix) {
			sks = append(sks, sk)
		}
	}
	sort.Strings(sks) // DynamoDB orders string sort keys by their UTF-8 bytes, as Go compares strings
	return ix.hash, ix.rng, sks, true
}

// queryInput is a Query's request as far as the shim reads it; any field
// it does not answer for sends the Query to minidyn.
type queryInput struct {
	TableName                 string
	IndexName                 string
	KeyConditionExpression    string
	ExpressionAttributeNames  map[string]string
	ExpressionAttributeValues map[string]json.RawMessage
	ConsistentRead            bool
	ScanIndexForward          *bool
	ReturnConsumedCapacity    string

	FilterExpression     string
	ProjectionExpression string
	Select               string
	Limit                *int
	ExclusiveStartKey    json.RawMessage
	AttributesToGet      json.RawMessage
	KeyConditions        json.RawMessage
	QueryFilter          json.RawMessage
	ConditionalOperator  string
}

// query answers a plain partition Query from the key index; it returns
// false, having written nothing, when the Query is not one it answers.
func (d *dynamoShim) query(w http.ResponseWriter, body []byte) bool {
	var in queryInput
	if json.Unmarshal(body, &in) != nil || in.IndexName != "" || in.FilterExpression != "" || in.ProjectionExpression != "" ||
		(in.Select != "" && in.Select != "ALL_ATTRIBUTES") || in.Limit != nil || len(in.ExclusiveStartKey) > 0 ||
		len(in.AttributesToGet) > 0 || len(in.KeyConditions) > 0 || len(in.QueryFilter) > 0 || in.ConditionalOperator != "" {
		return false
	}
	m := partitionQuery.FindStringSubmatch(in.KeyConditionExpression)
	if m == nil {
		return false
	}
	name := func(n string) string {
		if strings.HasPrefix(n, "#") {
			return in.ExpressionAttributeNames[n]
		}
		return n
	}
	pk, ok := stringOf(in.ExpressionAttributeValues[m[2]])
	if !ok {
		return false
	}
	prefix := ""
	if m[3] != "" {
		if prefix, ok = stringOf(in.ExpressionAttributeValues[m[4]]); !ok {
			return false
		}
	}
	hash, rng, sks, ok := d.keys.partition(in.TableName, pk, prefix)
	if !ok || name(m[1]) != hash || (m[3] != "" && (rng == "" || name(m[3]) != rng)) {
		return false
	}
	if in.ScanIndexForward != nil && !*in.ScanIndexForward {
		for i, j := 0, len(sks)-1; i < j; i, j = i+1, j-1 {
			sks[i], sks[j] = sks[j], sks[i]
		}
	}
	items := make([]json.RawMessage, 0, len(sks))
	for _, sk := range sks {
		key := map[string]any{hash: map[string]string{"S": pk}}
		if rng != "" {
			key[rng] = map[string]string{"S": sk}
		}
		status, out := d.call("GetItem", map[string]any{"TableName": in.TableName, "Key": key, "ConsistentRead": true})
		if status != http.StatusOK {
			passOn(w, status, out)
			return true
		}
		if item, err := itemOf(out); err == nil && item != nil {
			items = append(items, item) // deleted since the keys were read: left out
		}
	}
	writeShimJSON(w, http.StatusOK, map[string]any{"Items": items, "Count": len(items), "ScannedCount": len(items)})
	return true
}
