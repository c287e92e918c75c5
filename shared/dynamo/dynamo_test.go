package dynamo

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/truora/minidyn/server"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/limits"
	"github.com/pccc/pccc/shared/testkit"
)

const table = "pccc-test"

// localDynamo starts minidyn's DynamoDB-protocol server in-process and
// returns a real SDK client on it with the table created.
func localDynamo(t *testing.T) *dynamodb.Client {
	t.Helper()
	srv := httptest.NewServer(server.NewServer())
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c, err := awsclient.New(ctx, awsclient.Options{DynamoDBEndpoint: srv.URL, Region: "ap-northeast-2",
		DynamoDBAPIOptions: []func(*middleware.Stack) error{recordAccess}})
	if err != nil {
		t.Fatal(err)
	}
	createTable(t, c.DynamoDB)
	return c.DynamoDB
}

// createTable creates the table with the schema template.yaml declares.
func createTable(t *testing.T, db *dynamodb.Client) {
	t.Helper()
	if _, err := db.CreateTable(context.Background(), TableSchema(table)); err != nil {
		t.Fatalf("create table: %v", err)
	}
}

func rawItem(t *testing.T, db *dynamodb.Client, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: map[string]types.AttributeValue{"PK": s(pk), "SK": s(sk)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func TestVerificationStore(t *testing.T) {
	db := localDynamo(t)
	ctx := context.Background()
	clk := testkit.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	st := NewVerificationStore(db, table, clk.Now)
	v := identity.Verification{
		ID: "abcDEF123_-xyz", HolderKey: strings.Repeat("ab", 32), Identity: "v1.k1.c2VhbGVk",
		Step: identity.StepSMS, CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(10 * time.Minute),
	}
	if err := st.Put(ctx, v); err != nil {
		t.Fatal(err)
	}

	item := rawItem(t, db, "VER#"+v.ID, "VER")
	want := map[string]string{"PK": "S", "SK": "S", "holderKey": "S", "identity": "S", "step": "S", "createdAt": "S", "expiresAt": "S", "ttl": "N"}
	if len(item) != len(want) {
		t.Fatalf("item has attributes %v", keys(item))
	}
	for name, typ := range want {
		_, isS := item[name].(*types.AttributeValueMemberS)
		_, isN := item[name].(*types.AttributeValueMemberN)
		if (typ == "S" && !isS) || (typ == "N" && !isN) {
			t.Fatalf("attribute %s is not %s", name, typ)
		}
	}
	if ttl, _ := num(item, "ttl"); ttl != v.ExpiresAt.Add(24*time.Hour).Unix() {
		t.Fatalf("ttl %d", ttl)
	}

	tests := []struct {
		name    string
		id      string
		advance time.Duration
		wantErr error
	}{
		{"found", v.ID, 0, nil},
		{"missing", "nope", 0, identity.ErrNoVerification},
		{"just before expiry", v.ID, 10*time.Minute - time.Second, nil},
		{"at expiry, though the item is still there", v.ID, time.Second, identity.ErrNoVerification},
	}
	for _, tt := range tests {
		clk.Advance(tt.advance)
		got, err := st.Get(ctx, tt.id)
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
			t.Fatalf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
		}
		if tt.wantErr == nil && (got.ID != v.ID || got.HolderKey != v.HolderKey || got.Identity != v.Identity ||
			got.Step != v.Step || !got.CreatedAt.Equal(v.CreatedAt) || !got.ExpiresAt.Equal(v.ExpiresAt)) {
			t.Fatalf("%s: got %+v, want %+v", tt.name, got, v)
		}
	}

	if err := st.Put(ctx, v); err == nil {
		t.Fatal("a second Put with the same id overwrote the first")
	}
}

func keys(m map[string]types.AttributeValue) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestLimiter(t *testing.T) {
	db := localDynamo(t)
	ctx := context.Background()
	// 20 s into a minute slot.
	start := time.Unix(1_800_000_000/60*60, 0)
	clk := testkit.NewClock(start.Add(20 * time.Second))
	l := NewLimiter(db, table, clk.Now)

	type call struct {
		key       string
		advance   time.Duration
		wantOK    bool
		wantAfter time.Duration
	}
	calls := []call{
		{"ip:a", 0, true, 0},
		{"ip:a", 0, true, 0},
		{"ip:a", 0, true, 0},
		// 4 in this slot: room again once, in the next slot, its weight
		// has fallen to 2: 40 s to the slot's end and 30 s more.
		{"ip:a", 0, false, 70 * time.Second},
		{"ip:b", 0, true, 0}, // other keys have their own counters
		// 30 s into the next slot the 4 before weigh 2: 1 fits.
		{"ip:a", 70 * time.Second, true, 0},
		// Now 1 + 2, and this one counts too: room when the slot ends and
		// these 2 weigh 2 at the next one's start.
		{"ip:a", 0, false, 30 * time.Second},
	}
	for i, c := range calls {
		clk.Advance(c.advance)
		ok, after, err := l.Allow(ctx, c.key, 3, time.Minute)
		if err != nil || ok != c.wantOK || after != c.wantAfter {
			t.Fatalf("call %d: Allow = %v, %v, %v; want %v, %v", i, ok, after, err, c.wantOK, c.wantAfter)
		}
	}
	item := rawItem(t, db, RateKey("ip:a", start), "RATE")
	if c, _ := num(item, "count"); c != 4 {
		t.Fatalf("count %d, want 4 (refused events count too)", c)
	}
	if ttl, _ := num(item, "ttl"); ttl != start.Add(2*time.Minute+time.Hour).Unix() {
		t.Fatalf("ttl %d", ttl)
	}
	if _, _, err := l.Allow(ctx, "k", 1, time.Millisecond); err == nil {
		t.Fatal("sub-second window accepted")
	}
}

func TestLimiterTakeGivePeek(t *testing.T) {
	db := localDynamo(t)
	ctx := context.Background()
	// 23:59:50 in Seoul.
	clk := testkit.NewClock(time.Date(2025, 12, 1, 14, 59, 50, 0, time.UTC))
	l := NewLimiter(db, table, clk.Now)
	day := limits.Bound{Key: "fail:x", Limit: 2, Window: limits.KoreanDay}
	var taken []limits.Taken
	for i := range 2 {
		tk, ok, wait, err := l.Take(ctx, day)
		if err != nil || !ok || wait != 0 || tk.Count != int64(i+1) {
			t.Fatalf("take %d: %+v %v %v %v", i, tk, ok, wait, err)
		}
		taken = append(taken, tk)
	}
	if _, ok, wait, err := l.Take(ctx, day); err != nil || ok || wait != 10*time.Second {
		t.Fatalf("take over the bound: %v %v %v; want a wait to midnight in Seoul", ok, wait, err)
	}
	if wait, err := l.Peek(ctx, day); err != nil || wait != 10*time.Second {
		t.Fatalf("peek: %v %v", wait, err)
	}
	item := rawItem(t, db, "RATE#fail:x#d20251201", "RATE")
	if c, _ := num(item, "count"); c != 2 {
		t.Fatalf("count %d: a refused take counted", c)
	}
	if err := l.Give(ctx, taken[1]); err != nil {
		t.Fatal(err)
	}
	if wait, err := l.Peek(ctx, day); err != nil || wait != 0 {
		t.Fatalf("peek after give: %v %v", wait, err)
	}
	if _, ok, _, err := l.Take(ctx, day); err != nil || !ok {
		t.Fatalf("take after give: %v %v", ok, err)
	}
	// Midnight in Seoul: a new day.
	clk.Advance(10 * time.Second)
	if wait, err := l.Peek(ctx, day); err != nil || wait != 0 {
		t.Fatalf("peek after midnight: %v %v", wait, err)
	}
	// A give never takes a counter below zero.
	for range 3 {
		if err := l.Give(ctx, taken[0]); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := num(rawItem(t, db, "RATE#fail:x#d20251201", "RATE"), "count"); c != 0 {
		t.Fatalf("count %d after gives", c)
	}
	// Sliding: the previous slot counts, weighted.
	hour := limits.Bound{Key: "fail:y", Limit: 2, Window: limits.Sliding(time.Hour)}
	for range 2 {
		if _, ok, _, err := l.Take(ctx, hour); err != nil || !ok {
			t.Fatalf("take: %v %v", ok, err)
		}
	}
	clk.Advance(time.Hour)
	if _, ok, wait, err := l.Take(ctx, hour); err != nil || ok || wait <= 0 || wait > time.Hour {
		t.Fatalf("an hour on, the 2 before still weigh: %v %v %v", ok, wait, err)
	}
}

func TestLimiterIsAtomicUnderConcurrency(t *testing.T) {
	db := localDynamo(t)
	clk := testkit.NewClock(time.Unix(1_800_000_000, 0))
	l := NewLimiter(db, table, clk.Now)
	var allowed, took atomic.Int64
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			ok, _, err := l.Allow(context.Background(), "person:x", 10, time.Hour)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		}()
		go func() {
			defer wg.Done()
			_, ok, _, err := l.Take(context.Background(), limits.Bound{Key: "person:y", Limit: 10, Window: limits.KoreanDay})
			if err != nil {
				t.Error(err)
			}
			if ok {
				took.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 10 || took.Load() != 10 {
		t.Fatalf("%d allowed, %d taken, want exactly 10 each", allowed.Load(), took.Load())
	}
}

func TestLimiterLease(t *testing.T) {
	db := localDynamo(t)
	ctx := context.Background()
	// 30 ms into a 250 ms window.
	t0 := time.UnixMilli(1_800_000_000_000 + 30)
	clk := testkit.NewClock(t0)
	l := NewLimiter(db, table, clk.Now)
	var leased int
	for i := range 10 {
		ok, count, err := l.Lease(ctx, "commands", 4, 10, 250*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			leased += 4
			if count != leased {
				t.Fatalf("lease %d: count %d, want %d", i, count, leased)
			}
		}
	}
	// Leases of 4 while the count is under 10: 0, 4, 8 → 12 leased, then none.
	if leased != 12 {
		t.Fatalf("leased %d events, want 12", leased)
	}
	clk.Advance(250 * time.Millisecond)
	if ok, _, err := l.Lease(ctx, "commands", 4, 10, 250*time.Millisecond); err != nil || !ok {
		t.Fatalf("the next window: %v %v", ok, err)
	}
	if c, _ := num(rawItem(t, db, "RATE#commands#1800000000000", "RATE"), "count"); c != 12 {
		t.Fatalf("first window's count %d, want 12", c)
	}
	if _, _, err := l.Lease(ctx, "commands", 0, 10, time.Second); err == nil {
		t.Fatal("a lease of nothing accepted")
	}
	// Leased reads the last whole window: the first one's 12 from the
	// second window, nothing from a window after an empty one.
	if n, err := l.Leased(ctx, "commands", 250*time.Millisecond); err != nil || n != 12 {
		t.Fatalf("Leased in the second window: %d, %v; want 12", n, err)
	}
	clk.Advance(500 * time.Millisecond)
	if n, err := l.Leased(ctx, "commands", 250*time.Millisecond); err != nil || n != 0 {
		t.Fatalf("Leased after an empty window: %d, %v; want 0", n, err)
	}
}

// failingCounter is a CounterAPI that fails with a given service error.
type failingCounter struct{ err error }

func (f failingCounter) UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, f.err
}

func (f failingCounter) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, f.err
}

func TestCapacityErrorsBecomeOverloaded(t *testing.T) {
	tests := []struct {
		code string
		want apperr.Code
	}{
		{"ProvisionedThroughputExceededException", apperr.Overloaded},
		{"ThrottlingException", apperr.Overloaded},
		{"RequestLimitExceeded", apperr.Overloaded},
		{"ResourceNotFoundException", apperr.Internal},
	}
	for _, tt := range tests {
		l := NewLimiter(failingCounter{&smithy.GenericAPIError{Code: tt.code, Message: "x"}}, table, nil)
		_, _, err := l.Allow(context.Background(), "k", 1, time.Minute)
		if apperr.CodeOf(err) != tt.want {
			t.Errorf("%s: code %s, want %s", tt.code, apperr.CodeOf(err), tt.want)
		}
		if tt.want == apperr.Overloaded && apperr.As(err).RetryAfter <= 0 {
			t.Errorf("%s: no Retry-After", tt.code)
		}
	}
}
