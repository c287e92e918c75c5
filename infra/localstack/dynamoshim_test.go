package localstack

import (
	"encoding/json"
	"testing"
)

func TestFixTableStatus(t *testing.T) {
	tests := []struct {
		name     string
		op, body string
		wantOK   bool
		wantName string
		want     string // the fixed body, compared as JSON
	}{
		{
			name:   "create fills table and GSI status, keeps numbers",
			op:     "CreateTable",
			body:   `{"TableDescription":{"TableName":"t","TableStatus":"","ItemCount":12345678901234567,"GlobalSecondaryIndexes":[{"IndexName":"GSI1"}]}}`,
			wantOK: true, wantName: "t",
			want: `{"TableDescription":{"TableName":"t","TableStatus":"ACTIVE","ItemCount":12345678901234567,"GlobalSecondaryIndexes":[{"IndexName":"GSI1","IndexStatus":"ACTIVE"}]}}`,
		},
		{
			name:   "describe uses the Table key",
			op:     "DescribeTable",
			body:   `{"Table":{"TableName":"t"}}`,
			wantOK: true, wantName: "t",
			want: `{"Table":{"TableName":"t","TableStatus":"ACTIVE"}}`,
		},
		{
			name:   "delete reports DELETING",
			op:     "DeleteTable",
			body:   `{"TableDescription":{"TableName":"t"}}`,
			wantOK: true, wantName: "t",
			want: `{"TableDescription":{"TableName":"t","TableStatus":"DELETING"}}`,
		},
		{
			name:   "a status already set is kept",
			op:     "DescribeTable",
			body:   `{"Table":{"TableName":"t","TableStatus":"UPDATING"}}`,
			wantOK: true, wantName: "t",
			want: `{"Table":{"TableName":"t","TableStatus":"UPDATING"}}`,
		},
		{name: "not JSON", op: "CreateTable", body: `unsupported operation`},
		{name: "no description", op: "CreateTable", body: `{"Other":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, name, ok := fixTableStatus(tt.op, []byte(tt.body))
			if ok != tt.wantOK || name != tt.wantName {
				t.Fatalf("fixTableStatus = name %q ok %v; want %q %v", name, ok, tt.wantName, tt.wantOK)
			}
			if !ok {
				return
			}
			if !jsonEqual(t, got, []byte(tt.want)) {
				t.Errorf("fixTableStatus body = %s\nwant %s", got, tt.want)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

func TestQueueURLFixer(t *testing.T) {
	fix := queueURLFixer("4100")
	tests := []struct{ name, in, want string }{
		{
			name: "goaws region prefix",
			in:   `{"QueueUrl":"http://ap-northeast-2.127.0.0.1:4100/000000000000/q"}`,
			want: `{"QueueUrl":"http://127.0.0.1:4100/000000000000/q"}`,
		},
		{
			name: "fauxqs sqs.region.localhost, several",
			in:   `{"QueueUrls":["http://sqs.us-east-1.localhost:4100/000000000000/a","http://sqs.us-east-1.localhost:4100/000000000000/b"]}`,
			want: `{"QueueUrls":["http://127.0.0.1:4100/000000000000/a","http://127.0.0.1:4100/000000000000/b"]}`,
		},
		{
			name: "XML (query protocol)",
			in:   `<QueueUrl>http://ap-northeast-2.127.0.0.1:4100/000000000000/q</QueueUrl>`,
			want: `<QueueUrl>http://127.0.0.1:4100/000000000000/q</QueueUrl>`,
		},
		{
			name: "other ports and ARNs untouched",
			in:   `{"a":"http://example.com:41000/x","b":"arn:aws:sqs:ap-northeast-2:000000000000:q"}`,
			want: `{"a":"http://example.com:41000/x","b":"arn:aws:sqs:ap-northeast-2:000000000000:q"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(fix([]byte(tt.in))); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
