package dynamo

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/limits"
	"github.com/pccc/pccc/shared/testkit"
)

// The package's tests run their DynamoDB calls through recordAccess: each
// call is put down under the store method that made it (from the stack),
// with its action and the partition keys it names. TestMain then holds
// every call to Accesses: a call a method makes that its entry does not
// list fails the package, so the table infra/leastpriv proves the
// template's grants with is itself held to what the code sends.
var recorded = struct {
	sync.Mutex
	calls map[string]map[string]bool // method -> "Action index PK"
}{calls: map[string]map[string]bool{}}

func TestMain(m *testing.M) {
	code := m.Run()
	// With -run or -skip only some tests ran: their calls are still held
	// to Accesses, but whether every entry was shown is for a whole run.
	whole := flag.Lookup("test.run").Value.String() == "" && flag.Lookup("test.skip").Value.String() == ""
	if code == 0 {
		if problems := checkRecorded(Accesses, whole); len(problems) > 0 {
			fmt.Fprintln(os.Stderr, "dynamo.Accesses does not match what the store methods sent:")
			for _, p := range problems {
				fmt.Fprintln(os.Stderr, "  "+p)
			}
			code = 1
		}
	}
	os.Exit(code)
}

// recordAccess is the middleware localDynamo adds to its client.
func recordAccess(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("pccc-record-access",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if method := storeMethod(); method != "" {
				for _, c := range callsOf(in.Parameters) {
					recorded.Lock()
					if recorded.calls[method] == nil {
						recorded.calls[method] = map[string]bool{}
					}
					recorded.calls[method][c] = true
					recorded.Unlock()
				}
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.Before)
}

var closureSuffix = regexp.MustCompile(`(\.func\d+)+$|\.gowrap\d+$`)

// storeMethod is the outermost "Type.Method" of this package on the
// stack that Accesses lists (what the caller called); "" for the tests'
// own calls.
func storeMethod() string {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	const pkg = "github.com/pccc/pccc/shared/dynamo."
	method := ""
	for {
		f, more := frames.Next()
		if name, ok := strings.CutPrefix(f.Function, pkg); ok && !strings.HasSuffix(f.File, "_test.go") {
			name = closureSuffix.ReplaceAllString(name, "")
			name = strings.NewReplacer("(*", "", ")", "").Replace(name)
			if _, listed := Accesses[name]; listed {
				method = name
			}
		}
		if !more {
			return method
		}
	}
}

// unrecorded are the entries no test call can show: builders of inputs
// the caller sends (Stats.Items, Stats.UpdateInputs), and the unexported
// helpers the exported methods call (listed for infra/leastpriv, which
// sees them reached; their calls are recorded under the exported method).
func unrecorded(method string) bool {
	name := method[strings.Index(method, ".")+1:]
	return method == "Stats.Items" || method == "Stats.UpdateInputs" || name[0] >= 'a' && name[0] <= 'z'
}

// callsOf names what an input asks for: "Action index PK" for each item.
func callsOf(params any) []string {
	pk := func(m map[string]types.AttributeValue, attr string) string {
		if v, ok := m[attr].(*types.AttributeValueMemberS); ok {
			return v.Value
		}
		return "?"
	}
	var out []string
	add := func(action, index, key string) { out = append(out, action+" "+index+" "+key) }
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		add("GetItem", "", pk(in.Key, AttrPK))
	case *dynamodb.PutItemInput:
		add("PutItem", "", pk(in.Item, AttrPK))
	case *dynamodb.UpdateItemInput:
		add("UpdateItem", "", pk(in.Key, AttrPK))
	case *dynamodb.DeleteItemInput:
		add("DeleteItem", "", pk(in.Key, AttrPK))
	case *dynamodb.QueryInput:
		attr := AttrPK
		if aws.ToString(in.IndexName) != "" {
			attr = AttrGSI1PK
		}
		add("Query", aws.ToString(in.IndexName), pk(in.ExpressionAttributeValues, ":pk")+"|"+attr)
	case *dynamodb.BatchGetItemInput:
		for _, ka := range in.RequestItems {
			for _, k := range ka.Keys {
				add("BatchGetItem", "", pk(k, AttrPK))
			}
		}
	case *dynamodb.TransactWriteItemsInput:
		for _, it := range in.TransactItems {
			switch {
			case it.Put != nil:
				add("PutItem", "", pk(it.Put.Item, AttrPK))
			case it.Update != nil:
				add("UpdateItem", "", pk(it.Update.Key, AttrPK))
			case it.Delete != nil:
				add("DeleteItem", "", pk(it.Delete.Key, AttrPK))
			case it.ConditionCheck != nil:
				add("ConditionCheckItem", "", pk(it.ConditionCheck.Key, AttrPK))
			}
		}
	default:
		out = append(out, fmt.Sprintf("%T ? ?", params))
	}
	return out
}

// prefixPattern is an Access's prefix as a pattern of the keys it covers.
func prefixPattern(p string) *regexp.Regexp {
	parts := strings.Split(p, CallerKey)
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, ".+"))
}

// checkRecorded: every call a method made is one its entry lists (or the
// statistics' items its transaction carries, Stats.Items); after a whole
// run, also every entry was called and every access it lists was made.
func checkRecorded(accesses map[string][]Access, whole bool) []string {
	recorded.Lock()
	defer recorded.Unlock()
	var problems []string
	for method, calls := range recorded.calls {
		allowed := append(append([]Access{}, accesses[method]...), accesses["Stats.Items"]...)
		for c := range calls {
			f := strings.SplitN(c, " ", 3)
			action, index, key := f[0], f[1], strings.Split(f[2], "|")[0]
			ok := false
			for _, a := range allowed {
				ok = ok || (a.Action == action && a.Index == index && prefixPattern(a.Prefix).MatchString(key))
			}
			if !ok {
				problems = append(problems, fmt.Sprintf("%s made %s on %q (index %q), which its entry does not list", method, action, key, index))
			}
		}
	}
	for method, listed := range accesses {
		if !whole || unrecorded(method) {
			continue
		}
		// A method's own calls, and its type's unexported helpers' (a
		// goroutine's stack does not show who started it: Limiter.Hit's
		// read of the previous slot is prevAsync's).
		typ := method[:strings.Index(method, ".")+1]
		calls := map[string]bool{}
		for m, cs := range recorded.calls {
			if m == method || strings.HasPrefix(m, typ) && unrecorded(m) {
				for c := range cs {
					calls[c] = true
				}
			}
		}
		if recorded.calls[method] == nil {
			problems = append(problems, fmt.Sprintf("%s: no test called it, so its entry is not shown to be what it does", method))
			continue
		}
		for _, a := range listed {
			seen := false
			for c := range calls {
				f := strings.SplitN(c, " ", 3)
				seen = seen || (a.Action == f[0] && a.Index == f[1] && prefixPattern(a.Prefix).MatchString(strings.Split(f[2], "|")[0]))
			}
			if !seen {
				problems = append(problems, fmt.Sprintf("%s: its entry lists %s on %q (index %q), which no test call made", method, a.Action, a.Prefix, a.Index))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// The recorder sees the calls (it is not blind), and the check catches a
// call a method's entry leaves out.
func TestAccessRecorderCatchesAnUnlistedCall(t *testing.T) {
	db := localDynamo(t)
	st := NewRequestStore(db, table)
	if _, err := st.Get(context.Background(), "r-1"); err == nil {
		t.Fatal("a request that was never queued was found")
	}
	recorded.Lock()
	seen := recorded.calls["RequestStore.Get"]["GetItem  REQ#r-1"]
	recorded.Unlock()
	if !seen {
		t.Fatalf("the recorder did not see RequestStore.Get's GetItem: %v", recorded.calls["RequestStore.Get"])
	}
	wrong := maps.Clone(Accesses)
	wrong["RequestStore.Get"] = []Access{get("VER#")}
	problems := checkRecorded(wrong, false)
	found := false
	for _, p := range problems {
		found = found || strings.Contains(p, `RequestStore.Get made GetItem on "REQ#r-1"`)
	}
	if !found {
		t.Errorf("an entry without the call it makes was not caught: %v", problems)
	}
	// And an entry listing more than the method does.
	wider := maps.Clone(Accesses)
	wider["RequestStore.Get"] = []Access{get("REQ#"), del("REQ#")}
	found = false
	for _, p := range checkRecorded(wider, true) {
		found = found || strings.Contains(p, `RequestStore.Get: its entry lists DeleteItem on "REQ#"`)
	}
	if !found {
		t.Errorf("an entry listing a call the method never makes was not caught")
	}
}

// Each store method the other tests of this package do not call, called
// once (or as often as its branches need) so that the recorder holds its
// entry in Accesses to what it sends. Outcomes do not matter here; the
// stores' behaviour is tested where they are used.
func TestEveryStoreMethodIsRecorded(t *testing.T) {
	db := localDynamo(t)
	ctx := context.Background()
	clk := testkit.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	at := clk.Now()

	keys := NewAPIKeyStore(db, table)
	_ = keys.Create(ctx, apikey.Record{ID: "k1", Owner: "ACME", RatePerMinute: 10, Hash: "00", CreatedAt: at})
	_, _ = keys.Key(ctx, "k1")
	_, _ = keys.List(ctx)
	_ = keys.Revoke(ctx, "k1", at)

	checks := NewCheckStore(db, table)
	_ = checks.Record(ctx, Check{ID: "c1", KeyID: "k1", Code: "P000000000000", HolderKey: "hk", Result: "match", At: at})
	_, _ = checks.ChecksOf(ctx, "hk", 10)
	for range 2 { // the first puts the counter, the second adds to it
		_, _ = checks.CountMismatch(ctx, "P000000000000", "2026-12-01", at)
		_, _ = checks.Flag(ctx, "P000000000000", "2026-12-01", 3, at)
	}
	_ = checks.MarkNotified(ctx, "P000000000000", "2026-12-01", at)
	_, _ = checks.Flagged(ctx, "2026-12-01")

	_, _ = NewHolderLanguages(db, table).SealedLanguage(ctx, "hk")

	l := NewLimiter(db, table, clk.Now)
	for range 2 {
		_, _, _ = l.Allow(ctx, "ip:a", 3, time.Minute)
		_, _, _ = l.Hit(ctx, limits.Bound{Key: "ip:b", Limit: 3, Window: limits.Sliding(time.Minute)})
		clk.Advance(time.Minute)
	}

	notices := NewNoticeStore(db, table, clk.Now)
	_, _ = notices.Claim(ctx, "n1")
	_ = notices.Release(ctx, "n1")
	_, _ = notices.Claim(ctx, "n1")
	_ = notices.Sent(ctx, "n1")

	vs := NewVerificationStore(db, table, clk.Now)
	v := identity.Verification{ID: "v1", HolderKey: "hk", Identity: "v1.k1.c2VhbGVk", Step: identity.StepSMS, CreatedAt: at, ExpiresAt: at.Add(10 * time.Minute)}
	_ = vs.Put(ctx, v)
	_, _ = vs.TakePhoneTry(ctx, "v1", 3)
	_ = vs.GivePhoneTry(ctx, "v1")
	next := v
	next.Step = identity.StepOTP
	_ = vs.SaveChallenge(ctx, "v1", v, next)
	_ = vs.MarkDeliveryFailed(ctx, "v1")
	_ = vs.MarkDeliveryLate(ctx, "v1", 1)
	_ = vs.Unmatched(ctx, at)

	recorded.Lock()
	defer recorded.Unlock()
	for _, m := range []string{"APIKeyStore.Create", "CheckStore.Flag", "NoticeStore.Sent", "VerificationStore.Unmatched", "Limiter.Allow"} {
		if recorded.calls[m] == nil {
			t.Errorf("%s made no call the recorder saw", m)
		}
	}
}
