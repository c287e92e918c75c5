package localstack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	minidyn "github.com/truora/minidyn/server"

	"github.com/pccc/pccc/shared/awsclient"
)

const txnTable = "txn"

// newTxnDB serves a new minidyn, behind the shim or alone, and gives a
// DynamoDB client of it with a table made.
func newTxnDB(t testing.TB, shim bool) *dynamodb.Client {
	t.Helper()
	var h = minidyn.NewServer()
	url, stop, err := func() (string, func() error, error) {
		if shim {
			return serve(newDynamoShim(h))
		}
		return serve(h)
	}()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stop() })
	ctx := context.Background()
	c, err := awsclient.New(ctx, awsclient.Options{Region: DefaultRegion, DynamoDBEndpoint: url})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(txnTable),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("G"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: ddbtypes.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{
			IndexName:  aws.String("G"),
			KeySchema:  []ddbtypes.KeySchemaElement{{AttributeName: aws.String("G"), KeyType: ddbtypes.KeyTypeHash}},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.DynamoDB
}

func sv(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
func nv(n int) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(n)}
}

func key(pk string) map[string]ddbtypes.AttributeValue {
	return map[string]ddbtypes.AttributeValue{"PK": sv(pk), "SK": sv("s")}
}

// txnOutcome is what a call answered, comparable across servers.
func txnOutcome(err error) string {
	if err == nil {
		return "ok"
	}
	var tc *ddbtypes.TransactionCanceledException
	if errors.As(err, &tc) {
		s := "cancelled"
		for _, r := range tc.CancellationReasons {
			s += " " + aws.ToString(r.Code)
			if len(r.Item) > 0 {
				s += fmt.Sprintf("(item v=%s)", r.Item["v"].(*ddbtypes.AttributeValueMemberN).Value)
			}
		}
		return s
	}
	var api interface{ ErrorCode() string }
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return err.Error()
}

// dump is the whole table and the index, in order.
func dump(t *testing.T, db *dynamodb.Client) string {
	t.Helper()
	ctx := context.Background()
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(txnTable), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, it := range out.Items {
		row := it["PK"].(*ddbtypes.AttributeValueMemberS).Value
		names := make([]string, 0, len(it))
		for n := range it {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			switch v := it[n].(type) {
			case *ddbtypes.AttributeValueMemberS:
				row += " " + n + "=" + v.Value
			case *ddbtypes.AttributeValueMemberN:
				row += " " + n + "=" + v.Value
			}
		}
		rows = append(rows, row)
	}
	q, err := db.Query(ctx, &dynamodb.QueryInput{
		TableName: aws.String(txnTable), IndexName: aws.String("G"),
		KeyConditionExpression:    aws.String("G = :g"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":g": sv("g")},
	})
	if err != nil {
		t.Fatal(err)
	}
	var inIndex []string
	for _, it := range q.Items {
		inIndex = append(inIndex, it["PK"].(*ddbtypes.AttributeValueMemberS).Value)
	}
	sort.Strings(rows)
	sort.Strings(inIndex)
	return fmt.Sprint(rows, " index:", inIndex)
}

// TestShimTransactionsAnswerAsMinidyn runs the same calls against minidyn
// alone and behind the shim, which carries transactions out itself: every
// answer, the table and the index afterwards are the same.
func TestShimTransactionsAnswerAsMinidyn(t *testing.T) {
	ctx := context.Background()
	put := func(pk string, v int, cond string) ddbtypes.TransactWriteItem {
		p := &ddbtypes.Put{TableName: aws.String(txnTable), Item: map[string]ddbtypes.AttributeValue{"PK": sv(pk), "SK": sv("s"), "v": nv(v), "G": sv("g")}}
		if cond != "" {
			p.ConditionExpression = aws.String(cond)
		}
		return ddbtypes.TransactWriteItem{Put: p}
	}
	incr := func(pk string, ifV int) ddbtypes.TransactWriteItem {
		return ddbtypes.TransactWriteItem{Update: &ddbtypes.Update{
			TableName: aws.String(txnTable), Key: key(pk),
			UpdateExpression:                    aws.String("SET v = v + :one"),
			ConditionExpression:                 aws.String("v = :v"),
			ExpressionAttributeValues:           map[string]ddbtypes.AttributeValue{":one": nv(1), ":v": nv(ifV)},
			ReturnValuesOnConditionCheckFailure: ddbtypes.ReturnValuesOnConditionCheckFailureAllOld,
		}}
	}
	del := func(pk, cond string) ddbtypes.TransactWriteItem {
		d := &ddbtypes.Delete{TableName: aws.String(txnTable), Key: key(pk)}
		if cond != "" {
			d.ConditionExpression = aws.String(cond)
		}
		return ddbtypes.TransactWriteItem{Delete: d}
	}
	check := func(pk, cond string) ddbtypes.TransactWriteItem {
		return ddbtypes.TransactWriteItem{ConditionCheck: &ddbtypes.ConditionCheck{TableName: aws.String(txnTable), Key: key(pk), ConditionExpression: aws.String(cond)}}
	}
	steps := []struct {
		name  string
		items []ddbtypes.TransactWriteItem
	}{
		{"three puts", []ddbtypes.TransactWriteItem{put("a", 1, ""), put("b", 1, ""), put("c", 1, "")}},
		{"put if absent fails on b after a's put", []ddbtypes.TransactWriteItem{put("d", 1, "attribute_not_exists(PK)"), put("b", 9, "attribute_not_exists(PK)")}},
		{"update a, delete c, check b", []ddbtypes.TransactWriteItem{incr("a", 1), del("c", "attribute_exists(PK)"), check("b", "v = :one")}},
		{"check on a missing item holds and creates nothing", []ddbtypes.TransactWriteItem{check("zz", "attribute_not_exists(PK)"), put("e", 5, "")}},
		{"check on a missing item fails", []ddbtypes.TransactWriteItem{put("f", 1, ""), check("zz", "attribute_exists(PK)")}},
		{"update's condition fails with the old item", []ddbtypes.TransactWriteItem{del("e", ""), incr("a", 7)}},
		{"delete's condition fails, the update before it undone", []ddbtypes.TransactWriteItem{incr("a", 2), del("b", "v = :nine")}},
		{"two operations on one item", []ddbtypes.TransactWriteItem{put("g", 1, ""), incr("g", 1)}},
		{"check then update a", []ddbtypes.TransactWriteItem{check("b", "attribute_exists(PK)"), incr("a", 2)}},
	}
	// The ExpressionAttributeValues the delete above names.
	steps[6].items[1].Delete.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":nine": nv(9)}
	steps[2].items[2].ConditionCheck.ExpressionAttributeValues = map[string]ddbtypes.AttributeValue{":one": nv(1)}

	raw, shim := newTxnDB(t, false), newTxnDB(t, true)
	for _, s := range steps {
		_, errRaw := raw.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: s.items})
		_, errShim := shim.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: s.items})
		if a, b := txnOutcome(errRaw), txnOutcome(errShim); a != b {
			t.Errorf("%s: minidyn answered %q, the shim %q", s.name, a, b)
		} else {
			t.Logf("%s: %s", s.name, a)
		}
		if a, b := dump(t, raw), dump(t, shim); a != b {
			t.Fatalf("%s: tables differ\nminidyn %s\nshim    %s", s.name, a, b)
		}
	}
	if got := dump(t, shim); got != "[a G=g PK=a SK=s v=3 b G=g PK=b SK=s v=1 e G=g PK=e SK=s v=5] index:[a b e]" {
		t.Errorf("final table %s", got)
	}
}

// TestShimTransactionsAreIsolated: transactions moving a unit between two
// items, run at once from many clients beside plain reads, never let a
// read see the sum changed, and lose no update.
func TestShimTransactionsAreIsolated(t *testing.T) {
	ctx := context.Background()
	db := newTxnDB(t, true)
	for _, pk := range []string{"x", "y"} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(txnTable), Item: map[string]ddbtypes.AttributeValue{"PK": sv(pk), "SK": sv("s"), "v": nv(100)}}); err != nil {
			t.Fatal(err)
		}
	}
	move := func(from, to string) error {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
			{Update: &ddbtypes.Update{TableName: aws.String(txnTable), Key: key(from), UpdateExpression: aws.String("SET v = v - :one"), ConditionExpression: aws.String("v > :zero"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":one": nv(1), ":zero": nv(0)}}},
			{Update: &ddbtypes.Update{TableName: aws.String(txnTable), Key: key(to), UpdateExpression: aws.String("SET v = v + :one"),
				ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":one": nv(1)}}},
		}})
		return err
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var mu sync.Mutex
	var bad []string
	reads := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			out, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{txnTable: {Keys: []map[string]ddbtypes.AttributeValue{key("x"), key("y")}, ConsistentRead: aws.Bool(true)}}})
			if err != nil {
				t.Error(err)
				return
			}
			sum := 0
			for _, it := range out.Responses[txnTable] {
				n, _ := strconv.Atoi(it["v"].(*ddbtypes.AttributeValueMemberN).Value)
				sum += n
			}
			mu.Lock()
			reads++
			if sum != 200 {
				bad = append(bad, strconv.Itoa(sum))
			}
			mu.Unlock()
		}
	}()
	var movers sync.WaitGroup
	for g := range 8 {
		movers.Add(1)
		go func() {
			defer movers.Done()
			for i := range 40 {
				from, to := "x", "y"
				if (g+i)%2 == 0 {
					from, to = to, from
				}
				if err := move(from, to); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	movers.Wait()
	close(stop)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("%d of %d reads saw a transaction half done (sums %v)", len(bad), reads, bad[:min(5, len(bad))])
	}
	if got := dump(t, db); got != "[x PK=x SK=s v=100 y PK=y SK=s v=100] index:[]" {
		t.Errorf("after 160 moves each way half: %s", got)
	}
	t.Logf("%d reads during 320 transactions, each saw 200", reads)
}

// BenchmarkShimTransaction: a two-item transaction on a table of 10 and
// of 20,000 items, behind the shim and on minidyn alone (which copies the
// table for each): go test -bench ShimTransaction ./infra/localstack/
func BenchmarkShimTransaction(b *testing.B) {
	ctx := context.Background()
	for _, shim := range []bool{true, false} {
		for _, rows := range []int{10, 20000} {
			b.Run(fmt.Sprintf("shim=%v/rows=%d", shim, rows), func(b *testing.B) {
				db := newTxnDB(b, shim)
				for i := 0; i < rows; i += 25 {
					var reqs []ddbtypes.WriteRequest
					for j := i; j < min(i+25, rows); j++ {
						reqs = append(reqs, ddbtypes.WriteRequest{PutRequest: &ddbtypes.PutRequest{Item: map[string]ddbtypes.AttributeValue{"PK": sv("fill" + strconv.Itoa(j)), "SK": sv("s"), "G": sv("h"), "pad": sv(fmt.Sprintf("%0200d", j))}}})
					}
					if _, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{txnTable: reqs}}); err != nil {
						b.Fatal(err)
					}
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
						{Put: &ddbtypes.Put{TableName: aws.String(txnTable), Item: map[string]ddbtypes.AttributeValue{"PK": sv("t" + strconv.Itoa(i)), "SK": sv("s")}, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
						{Put: &ddbtypes.Put{TableName: aws.String(txnTable), Item: map[string]ddbtypes.AttributeValue{"PK": sv("u" + strconv.Itoa(i)), "SK": sv("s")}}},
					}}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// TestShimQueriesAnswerAsMinidyn writes the same items to minidyn alone
// and behind the shim, which answers plain partition Queries from the
// keys it saw written: puts, updates that create, deletes, batch writes,
// transactions (one undone) and a conditional put that fails; then every
// partition is queried whole, by sort-key prefix, both ways, and with the
// kinds of Query the shim leaves to minidyn. Every answer is the same.
func TestShimQueriesAnswerAsMinidyn(t *testing.T) {
	ctx := context.Background()
	raw, shim := newTxnDB(t, false), newTxnDB(t, true)
	item := func(pk, sk string, v int) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{"PK": sv(pk), "SK": sv(sk), "v": nv(v)}
	}
	both := func(what string, f func(db *dynamodb.Client) error) {
		t.Helper()
		a, b := txnOutcome(f(raw)), txnOutcome(f(shim))
		if a != b {
			t.Fatalf("%s: minidyn %q, shim %q", what, a, b)
		}
	}
	for i := range 40 {
		pk := fmt.Sprintf("P%d", i%4)
		sk := fmt.Sprintf("%s#%03d", []string{"TOTAL", "ITEM", "T"}[i%3], i)
		both("put", func(db *dynamodb.Client) error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(txnTable), Item: item(pk, sk, i)})
			return err
		})
	}
	both("update that creates", func(db *dynamodb.Client) error {
		_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(txnTable),
			Key:              map[string]ddbtypes.AttributeValue{"PK": sv("P1"), "SK": sv("TOTAL#new")},
			UpdateExpression: aws.String("SET v = :v"), ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":v": nv(7)}})
		return err
	})
	both("delete", func(db *dynamodb.Client) error {
		_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(txnTable), Key: map[string]ddbtypes.AttributeValue{"PK": sv("P0"), "SK": sv("TOTAL#000")}})
		return err
	})
	both("conditional put that fails", func(db *dynamodb.Client) error {
		_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(txnTable), Item: item("P9", "TOTAL#x", 1), ConditionExpression: aws.String("attribute_exists(PK)")})
		return err
	})
	both("batch write", func(db *dynamodb.Client) error {
		_, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{txnTable: {
			{PutRequest: &ddbtypes.PutRequest{Item: item("P2", "TOTAL#b", 1)}},
			{DeleteRequest: &ddbtypes.DeleteRequest{Key: map[string]ddbtypes.AttributeValue{"PK": sv("P3"), "SK": sv("T#003")}}},
		}}})
		return err
	})
	both("transaction", func(db *dynamodb.Client) error {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
			{Put: &ddbtypes.Put{TableName: aws.String(txnTable), Item: item("P1", "TOTAL#t", 3)}},
			{Delete: &ddbtypes.Delete{TableName: aws.String(txnTable), Key: map[string]ddbtypes.AttributeValue{"PK": sv("P1"), "SK": sv("ITEM#001")}}},
		}})
		return err
	})
	both("transaction undone", func(db *dynamodb.Client) error {
		_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{
			{Put: &ddbtypes.Put{TableName: aws.String(txnTable), Item: item("P1", "TOTAL#undone", 3)}},
			{Delete: &ddbtypes.Delete{TableName: aws.String(txnTable), Key: map[string]ddbtypes.AttributeValue{"PK": sv("P2"), "SK": sv("ITEM#002")}}},
			{ConditionCheck: &ddbtypes.ConditionCheck{TableName: aws.String(txnTable), Key: map[string]ddbtypes.AttributeValue{"PK": sv("P3"), "SK": sv("none")}, ConditionExpression: aws.String("attribute_exists(PK)")}},
		}})
		return err
	})
	answer := func(db *dynamodb.Client, in *dynamodb.QueryInput) string {
		var rows []string
		for p := dynamodb.NewQueryPaginator(db, in); p.HasMorePages(); {
			page, err := p.NextPage(ctx)
			if err != nil {
				return "error " + txnOutcome(err)
			}
			for _, it := range page.Items {
				rows = append(rows, it["SK"].(*ddbtypes.AttributeValueMemberS).Value+"="+it["v"].(*ddbtypes.AttributeValueMemberN).Value)
			}
		}
		return fmt.Sprint(rows)
	}
	queries := 0
	for _, pk := range []string{"P0", "P1", "P2", "P3", "P9"} {
		for _, prefix := range []string{"", "TOTAL#", "ITEM#", "T", "X"} {
			for _, forward := range []bool{true, false} {
				for _, other := range []string{"", "filter", "limit", "index names"} {
					in := &dynamodb.QueryInput{TableName: aws.String(txnTable), ConsistentRead: aws.Bool(true), ScanIndexForward: aws.Bool(forward),
						KeyConditionExpression:    aws.String("PK = :pk"),
						ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": sv(pk)}}
					if prefix != "" {
						in.KeyConditionExpression = aws.String("PK = :pk AND begins_with(SK, :p)")
						in.ExpressionAttributeValues[":p"] = sv(prefix)
					}
					switch other {
					case "filter":
						in.FilterExpression = aws.String("v > :n")
						in.ExpressionAttributeValues[":n"] = nv(10)
					case "limit":
						in.Limit = aws.Int32(2)
					case "index names":
						in.KeyConditionExpression = aws.String(strings.ReplaceAll(strings.ReplaceAll(*in.KeyConditionExpression, "PK", "#p"), "SK", "#s"))
						in.ExpressionAttributeNames = map[string]string{"#p": "PK"}
						if prefix != "" {
							in.ExpressionAttributeNames["#s"] = "SK"
						}
					}
					a, b := answer(raw, in), answer(shim, in)
					if a != b {
						t.Errorf("Query %s prefix %q forward %v %s: minidyn %s, shim %s", pk, prefix, forward, other, a, b)
					}
					queries++
				}
			}
		}
	}
	t.Logf("%d queries answered alike; P1 by TOTAL#: %s", queries, answer(shim, &dynamodb.QueryInput{TableName: aws.String(txnTable),
		KeyConditionExpression:    aws.String("PK = :pk AND begins_with(SK, :p)"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": sv("P1"), ":p": sv("TOTAL#")}}))
}
