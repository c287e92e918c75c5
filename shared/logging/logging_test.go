package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

func TestRequestIDIsAddedToEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "info").With("fn", "test")
	ctx := WithRequestID(context.Background(), "req-123")
	log.InfoContext(ctx, "hello", "n", 1)
	log.DebugContext(ctx, "hidden")
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil {
		t.Fatalf("want exactly one JSON line, got %q: %v", buf.String(), err)
	}
	if line["requestId"] != "req-123" || line["msg"] != "hello" || line["fn"] != "test" {
		t.Fatalf("line = %v", line)
	}
}
