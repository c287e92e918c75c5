package localstack

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// dynamoShim fills the gaps of minidyn's HTTP server that code written for
// real DynamoDB trips over, so the local runner can create tables from the
// SAM template the same way on every stack:
//
//   - ListTables and UpdateTimeToLive/DescribeTimeToLive are not implemented
//     by minidyn ("unsupported operation", a 400 the SDK cannot parse). The
//     shim answers them itself from the tables created through it. TTL is
//     recorded, not enforced: items do not expire, which is harmless because
//     pccc checks expiry in code and TTL only cleans up.
//   - Table and index descriptions come back with an empty TableStatus /
//     IndexStatus, which makes the SDK's TableExistsWaiter wait forever. The
//     shim reports ACTIVE (DELETING for DeleteTable), like DynamoDB Local.
//   - TransactWriteItems copies whole tables in minidyn; the shim carries
//     transactions out itself at the cost of their own items
//     (dynamotxn.go).
//   - Query reads the whole table in minidyn; the shim answers the plain
//     partition Query from the keys it has seen written (dynamoquery.go).
//
// Everything else goes to minidyn untouched.
type dynamoShim struct {
	next http.Handler

	// txn is held exclusively by a transaction and shared by every other
	// request, so nothing sees a transaction half done.
	txn sync.RWMutex

	mu     sync.Mutex
	tables map[string]*shimTable

	keys keys
}

type shimTable struct {
	ttlAttribute string
	ttlEnabled   bool
	keyNames     []string // the key schema's attribute names, once read
}

func newDynamoShim(next http.Handler) *dynamoShim {
	return &dynamoShim{next: next, tables: map[string]*shimTable{}}
}

func (d *dynamoShim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndex(target, ".")+1:]
	if op == "TransactWriteItems" {
		d.txn.Lock()
		defer d.txn.Unlock()
		d.transactWrite(w, r)
		return
	}
	d.txn.RLock()
	defer d.txn.RUnlock()
	switch op {
	case "ListTables":
		d.listTables(w, r)
	case "UpdateTimeToLive":
		d.updateTimeToLive(w, r)
	case "DescribeTimeToLive":
		d.describeTimeToLive(w, r)
	case "CreateTable", "DescribeTable", "UpdateTable", "DeleteTable":
		d.tableOp(op, w, r)
	case "Query":
		body, ok := readShimBody(w, r)
		if ok && !d.query(w, body) {
			d.forward(w, r, body, nil)
		}
	case "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem":
		d.write(op, w, r)
	default:
		d.next.ServeHTTP(w, r)
	}
}

// readShimBody reads a request's body; on failure it answers the caller
// and returns false.
func readShimBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeShimError(w, "SerializationException", "cannot read request: "+err.Error())
		return nil, false
	}
	return body, true
}

// forward passes a request whose body was read (body) to minidyn and
// writes its answer back, as then changes it (nil: unchanged). then sees
// the status, the request's body and the answer's.
func (d *dynamoShim) forward(w http.ResponseWriter, r *http.Request, body []byte, then func(status int, req, out []byte) []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	d.next.ServeHTTP(rec, r)
	out := rec.body.Bytes()
	if then != nil {
		out = then(rec.status, body, out)
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(rec.status)
	_, _ = w.Write(out)
}

// write passes a write to minidyn and notes the keys it wrote.
func (d *dynamoShim) write(op string, w http.ResponseWriter, r *http.Request) {
	body, ok := readShimBody(w, r)
	if !ok {
		return
	}
	d.forward(w, r, body, func(status int, req, out []byte) []byte {
		if status == http.StatusOK {
			d.keys.written(op, req)
			if op == "BatchWriteItem" {
				d.keys.unprocessed(out)
			}
		}
		return out
	})
}

// tableOp passes a table operation to minidyn, keeps the list of tables in
// step with it and fills in the statuses minidyn leaves empty.
func (d *dynamoShim) tableOp(op string, w http.ResponseWriter, r *http.Request) {
	body, ok := readShimBody(w, r)
	if !ok {
		return
	}
	d.forward(w, r, body, func(status int, req, out []byte) []byte {
		if status != http.StatusOK {
			return out
		}
		fixed, name, ok := fixTableStatus(op, out)
		if !ok {
			return out
		}
		d.mu.Lock()
		switch op {
		case "CreateTable":
			d.tables[name] = &shimTable{}
		case "DeleteTable":
			delete(d.tables, name)
		}
		d.mu.Unlock()
		switch op {
		case "CreateTable":
			d.keys.created(name, req)
		case "DeleteTable":
			d.keys.dropped(name)
		}
		return fixed
	})
}

// fixTableStatus sets the empty statuses in a table operation's response and
// returns the table's name. ok is false when the body is not the expected
// JSON, in which case it is passed on unchanged.
func fixTableStatus(op string, body []byte) (fixed []byte, name string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // keep capacity numbers and the like exactly as sent
	var resp map[string]any
	if err := dec.Decode(&resp); err != nil {
		return nil, "", false
	}
	key, status := "TableDescription", "ACTIVE"
	switch op {
	case "DescribeTable":
		key = "Table"
	case "DeleteTable":
		status = "DELETING"
	}
	desc, _ := resp[key].(map[string]any)
	if desc == nil {
		return nil, "", false
	}
	name, _ = desc["TableName"].(string)
	if s, _ := desc["TableStatus"].(string); s == "" {
		desc["TableStatus"] = status
	}
	for _, field := range []string{"GlobalSecondaryIndexes", "LocalSecondaryIndexes"} {
		indexes, _ := desc[field].([]any)
		for _, ix := range indexes {
			m, _ := ix.(map[string]any)
			if m == nil || field == "LocalSecondaryIndexes" {
				continue // LSIs have no status in DynamoDB's API
			}
			if s, _ := m["IndexStatus"].(string); s == "" {
				m["IndexStatus"] = "ACTIVE"
			}
		}
	}
	out, err := json.Marshal(resp)
	if err != nil {
		return nil, "", false
	}
	return out, name, true
}

func (d *dynamoShim) listTables(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ExclusiveStartTableName string
		Limit                   int
	}
	if !decodeShimInput(w, r, &in) {
		return
	}
	d.mu.Lock()
	names := make([]string, 0, len(d.tables))
	for n := range d.tables {
		if n > in.ExclusiveStartTableName {
			names = append(names, n)
		}
	}
	d.mu.Unlock()
	slices.Sort(names)
	out := map[string]any{}
	if in.Limit > 0 && len(names) > in.Limit {
		names = names[:in.Limit]
		out["LastEvaluatedTableName"] = names[len(names)-1]
	}
	out["TableNames"] = names
	writeShimJSON(w, http.StatusOK, out)
}

func (d *dynamoShim) updateTimeToLive(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TableName               string
		TimeToLiveSpecification struct {
			AttributeName string
			Enabled       bool
		}
	}
	if !decodeShimInput(w, r, &in) {
		return
	}
	spec := in.TimeToLiveSpecification
	if spec.AttributeName == "" {
		writeShimError(w, "ValidationException", "TimeToLiveSpecification.AttributeName must be set")
		return
	}
	d.mu.Lock()
	t := d.tables[in.TableName]
	if t != nil {
		t.ttlAttribute, t.ttlEnabled = spec.AttributeName, spec.Enabled
	}
	d.mu.Unlock()
	if t == nil {
		writeShimError(w, "ResourceNotFoundException", "Requested resource not found: Table: "+in.TableName+" not found")
		return
	}
	writeShimJSON(w, http.StatusOK, map[string]any{"TimeToLiveSpecification": spec})
}

func (d *dynamoShim) describeTimeToLive(w http.ResponseWriter, r *http.Request) {
	var in struct{ TableName string }
	if !decodeShimInput(w, r, &in) {
		return
	}
	d.mu.Lock()
	t := d.tables[in.TableName]
	var desc map[string]any
	if t != nil {
		desc = map[string]any{"TimeToLiveStatus": "DISABLED"}
		if t.ttlEnabled {
			desc = map[string]any{"TimeToLiveStatus": "ENABLED", "AttributeName": t.ttlAttribute}
		}
	}
	d.mu.Unlock()
	if desc == nil {
		writeShimError(w, "ResourceNotFoundException", "Requested resource not found: Table: "+in.TableName+" not found")
		return
	}
	writeShimJSON(w, http.StatusOK, map[string]any{"TimeToLiveDescription": desc})
}

func decodeShimInput(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(r.Body)
	if err == nil && len(bytes.TrimSpace(body)) > 0 {
		err = json.Unmarshal(body, v)
	}
	if err != nil {
		writeShimError(w, "SerializationException", "cannot read request: "+err.Error())
		return false
	}
	return true
}

// writeShimError writes an error the way DynamoDB does, so the SDK turns it
// into its typed error (e.g. *types.ResourceNotFoundException).
func writeShimError(w http.ResponseWriter, code, msg string) {
	writeShimJSON(w, http.StatusBadRequest, map[string]string{
		"__type":  "com.amazonaws.dynamodb.v20120810#" + code,
		"message": msg,
	})
}

func writeShimJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
