package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"
)

// TestCallTimes times a real SDK client's calls, by operation, only while
// asked to, and forgets them once summarised.
func TestCallTimes(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		target := r.Header.Get("X-Amz-Target")
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if strings.HasSuffix(target, ".PutItem") {
			time.Sleep(20 * time.Millisecond)
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	ct := newCallTimes()
	db := dynamodb.New(dynamodb.Options{Region: "ap-northeast-2", BaseEndpoint: aws.String(srv.URL),
		Credentials: aws.AnonymousCredentials{}, DisableValidateResponseChecksum: true, APIOptions: append([]func(*middleware.Stack) error(nil), ct.Middleware)})
	ctx := context.Background()
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "a"}}
	get := func() {
		if _, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: key}); err != nil {
			t.Fatal(err)
		}
	}
	get() // not recording yet
	ct.Start()
	get()
	get()
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: key}); err != nil {
		t.Fatal(err)
	}
	calls := ct.Stop()
	get() // stopped
	if served.Load() != 5 {
		t.Fatalf("the server saw %d calls, want 5", served.Load())
	}
	if len(calls) != 2 || calls[0].Op != "DynamoDB GetItem" || calls[0].Calls != 2 || calls[1].Op != "DynamoDB PutItem" || calls[1].Calls != 1 {
		t.Fatalf("recorded %+v, want 2 GetItem and 1 PutItem", calls)
	}
	if calls[1].P99 < 20*time.Millisecond || calls[1].Max != calls[1].P99 {
		t.Errorf("the put that took 20 ms was timed %v (max %v)", calls[1].P99, calls[1].Max)
	}
	if again := ct.Stop(); len(again) != 0 {
		t.Errorf("a second summary still holds %+v", again)
	}
}
