package localstack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
)

// The embedded stack's transactions.
//
// minidyn carries out TransactWriteItems by deep-copying every table the
// transaction touches before it starts, so it can put the copy back if a
// condition fails. That makes each transaction cost the size of the whole
// table: a campaign of thousands of codes, or any test that fills the
// table, grows with the square of its size. The shim carries a
// transaction out itself instead, with an undo record of the items it
// touches only:
//
//   - while it runs, it holds the shim's lock exclusively; every other
//     request takes it shared, so no reader sees a transaction half done
//     (as in DynamoDB, where a transaction is isolated from other calls);
//   - each item's current value is read (GetItem, strongly consistent)
//     before its operation, which is then sent to minidyn as the
//     single-item call it is (PutItem, UpdateItem, DeleteItem) with the
//     item's own condition; a ConditionCheck is a conditional PutItem of
//     the item as it is, undone at once, so it changes nothing;
//   - when an operation fails, the items already written are put back as
//     they were (or deleted, if they did not exist), in reverse order, and
//     the answer is DynamoDB's TransactionCanceledException with one
//     reason per item: ConditionalCheckFailed at the failed one (with the
//     item when ReturnValuesOnConditionCheckFailure is ALL_OLD), None for
//     the others. Two operations on one item are a ValidationException, as
//     DynamoDB answers before running anything.
//
// What it answers is what minidyn answered before; only the cost changes.

// txnInput is TransactWriteItems' request, attribute maps kept as sent.
type txnInput struct {
	TransactItems []txnItem
}

type txnItem struct {
	Put            *txnOp
	Update         *txnOp
	Delete         *txnOp
	ConditionCheck *txnOp
}

// txnOp is any one of a transaction's operations: each uses the fields
// its kind has.
type txnOp struct {
	TableName                           string
	Item                                json.RawMessage `json:",omitempty"`
	Key                                 json.RawMessage `json:",omitempty"`
	UpdateExpression                    string          `json:",omitempty"`
	ConditionExpression                 string          `json:",omitempty"`
	ExpressionAttributeNames            json.RawMessage `json:",omitempty"`
	ExpressionAttributeValues           json.RawMessage `json:",omitempty"`
	ReturnValuesOnConditionCheckFailure string          `json:",omitempty"`
}

// txnStep is one operation with what undoes it.
type txnStep struct {
	kind  string // Put, Update, Delete, ConditionCheck
	op    *txnOp
	key   map[string]json.RawMessage
	old   json.RawMessage // the item before, nil if there was none
	wrote bool
}

func (it txnItem) step() (*txnStep, error) {
	switch {
	case it.Put != nil:
		return &txnStep{kind: "Put", op: it.Put}, nil
	case it.Update != nil:
		return &txnStep{kind: "Update", op: it.Update}, nil
	case it.Delete != nil:
		return &txnStep{kind: "Delete", op: it.Delete}, nil
	case it.ConditionCheck != nil:
		return &txnStep{kind: "ConditionCheck", op: it.ConditionCheck}, nil
	}
	return nil, fmt.Errorf("transaction item must include one of Put, Update, Delete, or ConditionCheck")
}

// transactWrite carries out a TransactWriteItems call; the caller holds
// the shim's lock exclusively.
func (d *dynamoShim) transactWrite(w http.ResponseWriter, r *http.Request) {
	var in txnInput
	if !decodeShimInput(w, r, &in) {
		return
	}
	if n := len(in.TransactItems); n == 0 || n > 100 {
		writeShimError(w, "ValidationException", fmt.Sprintf("1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length between 1 and 100 (got %d)", n))
		return
	}
	steps := make([]*txnStep, len(in.TransactItems))
	seen := map[string]bool{}
	for i, it := range in.TransactItems {
		s, err := it.step()
		if err != nil {
			writeShimError(w, "ValidationException", err.Error())
			return
		}
		if s.op.TableName == "" {
			writeShimError(w, "ValidationException", "transaction item has no TableName")
			return
		}
		keyNames, status, body := d.keyNames(s.op.TableName)
		if keyNames == nil {
			passOn(w, status, body)
			return
		}
		src := s.op.Key
		if s.kind == "Put" {
			src = s.op.Item
		}
		key, id, err := keyOf(src, keyNames)
		if err != nil {
			writeShimError(w, "ValidationException", err.Error())
			return
		}
		if seen[s.op.TableName+"|"+id] {
			writeShimError(w, "ValidationException", "Transaction request cannot include multiple operations on one item")
			return
		}
		seen[s.op.TableName+"|"+id] = true
		s.key = key
		steps[i] = s
	}

	for i, s := range steps {
		status, body := d.runStep(s)
		if status == http.StatusOK {
			continue
		}
		d.undo(steps[:i+1])
		if !isConditionFailure(body) {
			passOn(w, status, body)
			return
		}
		reasons := make([]map[string]any, len(steps))
		for j := range reasons {
			reasons[j] = map[string]any{"Code": "None"}
		}
		reasons[i] = map[string]any{"Code": "ConditionalCheckFailed", "Message": "The conditional request failed"}
		if s.op.ReturnValuesOnConditionCheckFailure == "ALL_OLD" && s.old != nil {
			reasons[i]["Item"] = s.old
		}
		writeShimJSON(w, http.StatusBadRequest, map[string]any{
			"__type":              "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
			"message":             "Transaction cancelled, please refer cancellation reasons for specific reasons [ConditionalCheckFailed]",
			"CancellationReasons": reasons,
		})
		return
	}
	// A ConditionCheck wrote the item as it was, or created it when there
	// was none: put that back now that every condition held.
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].kind == "ConditionCheck" {
			d.restore(steps[i])
		}
	}
	writeShimJSON(w, http.StatusOK, map[string]any{})
}

// runStep reads the item as it is, then sends the step's operation.
func (d *dynamoShim) runStep(s *txnStep) (int, []byte) {
	status, body := d.call("GetItem", map[string]any{"TableName": s.op.TableName, "Key": s.key, "ConsistentRead": true})
	if status != http.StatusOK {
		return status, body
	}
	item, err := itemOf(body)
	if err != nil {
		return http.StatusInternalServerError, []byte(err.Error())
	}
	s.old = item
	req := map[string]any{"TableName": s.op.TableName}
	if s.op.ConditionExpression != "" {
		req["ConditionExpression"] = s.op.ConditionExpression
	}
	if len(s.op.ExpressionAttributeNames) > 0 {
		req["ExpressionAttributeNames"] = s.op.ExpressionAttributeNames
	}
	if len(s.op.ExpressionAttributeValues) > 0 {
		req["ExpressionAttributeValues"] = s.op.ExpressionAttributeValues
	}
	op := s.kind + "Item"
	switch s.kind {
	case "Put":
		req["Item"] = s.op.Item
	case "Update":
		req["Key"] = s.key
		req["UpdateExpression"] = s.op.UpdateExpression
	case "Delete":
		req["Key"] = s.key
	case "ConditionCheck":
		op = "PutItem"
		if s.old != nil {
			req["Item"] = s.old
		} else {
			req["Item"] = s.key
		}
	}
	status, body = d.call(op, req)
	s.wrote = status == http.StatusOK
	return status, body
}

// undo puts back, newest first, every item the steps wrote.
func (d *dynamoShim) undo(steps []*txnStep) {
	for i := len(steps) - 1; i >= 0; i-- {
		if steps[i].wrote {
			d.restore(steps[i])
		}
	}
}

// restore leaves a step's item as it was before the step.
func (d *dynamoShim) restore(s *txnStep) {
	if s.old != nil {
		d.call("PutItem", map[string]any{"TableName": s.op.TableName, "Item": s.old})
	} else {
		d.call("DeleteItem", map[string]any{"TableName": s.op.TableName, "Key": s.key})
	}
}

// keyNames gives a table's key attribute names, read once from
// DescribeTable. When the table cannot be described it returns nil and
// minidyn's answer, which the caller passes on.
func (d *dynamoShim) keyNames(table string) ([]string, int, []byte) {
	d.mu.Lock()
	if t := d.tables[table]; t != nil && t.keyNames != nil {
		names := t.keyNames
		d.mu.Unlock()
		return names, 0, nil
	}
	d.mu.Unlock()
	status, body := d.call("DescribeTable", map[string]any{"TableName": table})
	if status != http.StatusOK {
		return nil, status, body
	}
	var desc struct {
		Table struct {
			KeySchema []struct{ AttributeName string }
		}
	}
	if err := json.Unmarshal(body, &desc); err != nil || len(desc.Table.KeySchema) == 0 {
		return nil, http.StatusInternalServerError, []byte("cannot read the key schema of " + table)
	}
	names := make([]string, 0, 2)
	for _, k := range desc.Table.KeySchema {
		names = append(names, k.AttributeName)
	}
	d.mu.Lock()
	if t := d.tables[table]; t != nil {
		t.keyNames = names
	}
	d.mu.Unlock()
	return names, 0, nil
}

// keyOf takes an item's key attributes, and an id of them to compare.
func keyOf(item json.RawMessage, names []string) (map[string]json.RawMessage, string, error) {
	var attrs map[string]json.RawMessage
	if err := json.Unmarshal(item, &attrs); err != nil {
		return nil, "", fmt.Errorf("cannot read the item's key: %v", err)
	}
	key := make(map[string]json.RawMessage, len(names))
	parts := make([]string, 0, len(names))
	for _, n := range names {
		v, ok := attrs[n]
		if !ok {
			return nil, "", fmt.Errorf("one of the required keys was not given a value: %s", n)
		}
		key[n] = v
		parts = append(parts, n+"="+string(compactJSON(v)))
	}
	sort.Strings(parts)
	return key, strings.Join(parts, "|"), nil
}

func compactJSON(v json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return v
	}
	return b.Bytes()
}

// call sends one request to minidyn in process and returns its answer.
func (d *dynamoShim) call(op string, in any) (int, []byte) {
	body, err := json.Marshal(in)
	if err != nil {
		return http.StatusInternalServerError, []byte(err.Error())
	}
	req, err := http.NewRequest(http.MethodPost, "http://minidyn/", bytes.NewReader(body))
	if err != nil {
		return http.StatusInternalServerError, []byte(err.Error())
	}
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	d.next.ServeHTTP(rec, req)
	out, _ := io.ReadAll(&rec.body)
	if rec.status == http.StatusOK {
		d.keys.written(op, body)
	}
	return rec.status, out
}

// itemOf is the item of a GetItem answer; nil when there is none.
func itemOf(body []byte) (json.RawMessage, error) {
	var got struct{ Item json.RawMessage }
	if err := json.Unmarshal(body, &got); err != nil {
		return nil, err
	}
	if len(got.Item) == 0 || bytes.Equal(got.Item, []byte("null")) || bytes.Equal(got.Item, []byte("{}")) {
		return nil, nil
	}
	return got.Item, nil
}

// isConditionFailure tells minidyn's ConditionalCheckFailedException.
func isConditionFailure(body []byte) bool {
	var e struct {
		Type string `json:"__type"`
	}
	_ = json.Unmarshal(body, &e)
	return strings.HasSuffix(e.Type, "ConditionalCheckFailedException")
}

// passOn writes minidyn's answer through unchanged.
func passOn(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
