package identityapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/truora/minidyn/server"

	"github.com/pccc/pccc/infra/sim"
	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/config"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/keyring"
	"github.com/pccc/pccc/shared/logging"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/testkit"
)

// TestBuildRealNameEndToEnd builds the function exactly as the Lambda
// runtime would, from configuration, on minidyn's DynamoDB-protocol server
// and the bureau simulator over HTTP, and drives it with API Gateway events.
func TestBuildRealNameEndToEnd(t *testing.T) {
	ctx := context.Background()
	ddb := httptest.NewServer(server.NewServer())
	defer ddb.Close()
	clients, err := awsclient.New(ctx, awsclient.Options{DynamoDBEndpoint: ddb.URL, Region: "ap-northeast-2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.DynamoDB.CreateTable(ctx, dynamo.TableSchema("pccc")); err != nil {
		t.Fatal(err)
	}
	residents := append(sim.BuiltIn(), sim.Resident{Name: "QXMARKER ZEDWORTH", RRN: "770707-5987654", Carrier: "KT", Phone: "01098761234"})
	mux := http.NewServeMux()
	mux.Handle("/_sim/", http.StripPrefix("/_sim", sim.New(residents).Handler()))
	bureauSrv := httptest.NewServer(mux)
	defer bureauSrv.Close()

	env := map[string]string{
		"TABLE_NAME": "pccc",
		"BUREAU_URL": bureauSrv.URL + "/_sim/bureau", "BUREAU_TIMEOUT": "1s",
		"CARRIER_URL":          bureauSrv.URL + "/_sim/carrier",
		"RATE_PERSON_PER_HOUR": "3",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Keys, _ = keyring.ForTest(keyring.HMAC, keyring.Data)
	logs := &testkit.Buffer{}
	built, err := BuildRealName(ctx, platform.Deps{
		Config: cfg, Log: logging.New(logs, "debug"), AWS: clients, HTTP: bureauSrv.Client(),
		Getenv: outboxEnv, Now: time.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	handler := lambda.NewHandler(built)

	call := func(i int, name, rrn string) (int, map[string]any) {
		ev := testkit.Event(t, "post-verifications.json")
		ev.RequestContext.RequestID = fmt.Sprintf("req-%d", i)
		ev.Body = body(name, rrn)
		payload, _ := json.Marshal(ev)
		out, err := handler.Invoke(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		_ = json.Unmarshal(out, &resp)
		var b map[string]any
		_ = json.Unmarshal([]byte(resp.Body), &b)
		return resp.StatusCode, b
	}

	steps := []struct {
		name, rrn string
		want      int
	}{
		{"HONG GILDONG", "900101-1234568", 201},
		{"qxmarker zedworth", "7707075987654", 201},
		{"QXMARKER WRONGNAME", "770707-5987654", 422},
		{"QXMARKER ZEDWORTH", "770707-5987654", 201},
		{"QXMARKER ZEDWORTH", "770707-5987654", 201},
		{"QXMARKER ZEDWORTH", "770707-5987654", 429},  // a fourth verification for one number this hour (failures do not count)
		{"QXMARKER WRONGNAME", "770707-5987654", 422}, // a wrong name is not told about them
		{"HONG GILDONG", "010101-3000000", 422},
	}
	for i, s := range steps {
		status, b := call(i, s.name, s.rrn)
		if status != s.want {
			t.Fatalf("step %d: status %d, want %d: %v", i, status, s.want, b)
		}
		if status == 201 {
			id, _ := b["verificationId"].(string)
			out, err := clients.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{
				TableName: aws.String("pccc"), Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "VER#" + id}, "SK": &types.AttributeValueMemberS{Value: "VER"}},
			})
			if err != nil || len(out.Item) == 0 {
				t.Fatalf("step %d: verification not stored: %v", i, err)
			}
		}
	}

	// Nothing personal in the table or the logs.
	scan, err := clients.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String("pccc")})
	if err != nil {
		t.Fatal(err)
	}
	dump, _ := json.Marshal(scan.Items)
	if !strings.Contains(string(dump), "VER#") || !strings.Contains(string(dump), "RATE#") {
		t.Fatalf("table dump lacks verifications or counters: %.300s", dump)
	}
	for _, m := range []string{"QXMARKER", "ZEDWORTH", "770707", "5987654", "GILDONG", "900101", "1234568", "203.0.113.7"} {
		if strings.Contains(string(dump), m) {
			t.Errorf("table holds %q", m)
		}
		if strings.Contains(logs.String(), m) {
			t.Errorf("logs hold %q", m)
		}
	}
}

func TestBuildRealNameRefusesBadDeps(t *testing.T) {
	good := config.Config{
		TableName: "pccc",
		BureauURL: "http://127.0.0.1:1", BureauTimeout: time.Second, BureauAttempts: 2,
		VerificationTTL: time.Minute, RateIPPerMinute: 1, RatePersonPerHour: 1,
		RRNFailsPerAddressPerHour: 1, RRNFailsPerDay: 1,
	}
	good.Keys, _ = keyring.ForTest(keyring.HMAC, keyring.Data)
	clients, err := awsclient.New(context.Background(), awsclient.Options{DynamoDBEndpoint: "http://127.0.0.1:1", Region: "ap-northeast-2"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(d *platform.Deps)
	}{
		{"no AWS clients", func(d *platform.Deps) { d.AWS = nil }},
		{"no logger", func(d *platform.Deps) { d.Log = nil }},
		{"no keys", func(d *platform.Deps) { d.Config.Keys = nil }},
		{"no HMAC key given", func(d *platform.Deps) { d.Config.Keys, _ = keyring.ForTest(keyring.Data) }},
		{"no data keys given", func(d *platform.Deps) { d.Config.Keys, _ = keyring.ForTest(keyring.HMAC) }},
		{"bureau URL not http", func(d *platform.Deps) { d.Config.BureauURL = "bureau" }},
		{"zero TTL", func(d *platform.Deps) { d.Config.VerificationTTL = 0 }},
		{"no outbox for the notices", func(d *platform.Deps) { d.Getenv = nil }},
		{"failures a day below those per address", func(d *platform.Deps) { d.Config.RRNFailsPerAddressPerHour = 2 }},
	}
	for _, tt := range tests {
		d := platform.Deps{Config: good, AWS: clients, Log: logging.New(io.Discard, "info"), Getenv: outboxEnv}
		tt.mutate(&d)
		if _, err := BuildRealName(context.Background(), d); err == nil {
			t.Errorf("%s: built", tt.name)
		}
	}
	if _, err := BuildRealName(context.Background(), platform.Deps{Config: good, AWS: clients, Log: logging.New(io.Discard, "info"), Getenv: outboxEnv}); err != nil {
		t.Fatalf("good deps: %v", err)
	}
}

// outboxEnv names an outbox no test reaches: none spends a number's day.
func outboxEnv(k string) string {
	if k == "NOTICE_QUEUE_URL" {
		return "http://127.0.0.1:1/000000000000/outbox"
	}
	return ""
}
