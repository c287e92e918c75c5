package declarationapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/truora/minidyn/server"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/awsclient"
	"github.com/pccc/pccc/shared/config"
	"github.com/pccc/pccc/shared/declaration"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/keyring"
	"github.com/pccc/pccc/shared/logging"
	"github.com/pccc/pccc/shared/platform"
	"github.com/pccc/pccc/shared/testkit"
)

// deps are a function's dependencies on minidyn's DynamoDB-protocol
// server, with the given function settings and clock.
func deps(t *testing.T, env map[string]string, now func() time.Time) (platform.Deps, *awsclient.Clients, *testkit.Buffer) {
	t.Helper()
	ctx := context.Background()
	ddb := httptest.NewServer(server.NewServer())
	t.Cleanup(ddb.Close)
	clients, err := awsclient.New(ctx, awsclient.Options{DynamoDBEndpoint: ddb.URL, Region: "ap-northeast-2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clients.DynamoDB.CreateTable(ctx, dynamo.TableSchema("pccc")); err != nil {
		t.Fatal(err)
	}
	common := map[string]string{"TABLE_NAME": "pccc", "BUREAU_URL": "http://bureau.invalid", "CARRIER_URL": "http://carrier.invalid"}
	cfg, err := config.Load(func(k string) string { return common[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Keys, _ = keyring.ForTest(keyring.HMAC, keyring.Data, keyring.Session)
	logs := &testkit.Buffer{}
	return platform.Deps{Config: cfg, Log: logging.New(logs, "debug"), AWS: clients, Getenv: func(k string) string { return env[k] }, Now: now}, clients, logs
}

// A bad policy setting fails the cold start of both functions, naming it.
func TestBuildRefusesABadPolicy(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{declaration.EnvConfirmation: "sometimes"}, declaration.EnvConfirmation},
		{map[string]string{declaration.EnvConfirmWithin: "forever"}, declaration.EnvConfirmWithin},
		{map[string]string{declaration.EnvDenialSuspends: "maybe"}, declaration.EnvDenialSuspends},
	}
	for _, tt := range tests {
		for name, build := range map[string]platform.Builder{"broker": BuildBroker, "holder": BuildHolder} {
			d, _, _ := deps(t, tt.env, time.Now)
			if _, err := build(context.Background(), d); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s with %v: %v, want an error naming %s", name, tt.env, err, tt.want)
			}
		}
	}
	d, _, _ := deps(t, map[string]string{declaration.EnvDenialSuspends: "true"}, time.Now)
	if _, err := BuildHolder(context.Background(), d); err == nil || !strings.Contains(err.Error(), "COMMAND_QUEUE_URL") {
		t.Errorf("suspending denials without a queue: %v", err)
	}
}

// The holder's function as the Lambda runtime runs it, driven with API
// Gateway events: the pending list, confirm, another holder's 404, and a
// confirmation after the deadline, on a clock moved forward.
func TestHolderFunctionOverEvents(t *testing.T) {
	ctx := context.Background()
	clock := testkit.NewClock(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	d, clients, logs := deps(t, map[string]string{declaration.EnvConfirmWithin: "1h"}, clock.Now)
	built, err := BuildHolder(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	handler := lambda.NewHandler(built)
	iss, err := d.Config.Keys.Session(15*time.Minute, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	token := func(hk string) string {
		tok, _, err := iss.Issue(hk, "v")
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	store := dynamo.NewDeclarationStore(clients.DynamoDB, "pccc")
	p, _ := declaration.PolicyFrom(d.Getenv)
	file := func(id, hk string) {
		t.Helper()
		decl := declaration.New(p, true, declaration.Declaration{ID: id, HolderKey: hk, KeyID: "0123456789abcdef", FiledBy: "ACME", CheckID: "c",
			Code: "P247732688745", Goods: declaration.Goods{Waybill: "CJ123456", Value: "1", Currency: "USD", Items: []declaration.Item{{Description: "x", Quantity: 1}}}}, clock.Now())
		if err := store.File(ctx, decl); err != nil {
			t.Fatal(err)
		}
	}
	call := func(name, hk, id string) (int, map[string]any) {
		t.Helper()
		ev := testkit.Event(t, name)
		ev.Headers["authorization"] = "Bearer " + token(hk)
		if id != "" {
			ev.PathParameters["id"] = id
			ev.RawPath = "/v1/declarations/" + id + "/confirm"
		}
		payload, _ := json.Marshal(ev)
		out, err := handler.Invoke(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.Unmarshal([]byte(resp.Body), &body)
		return resp.StatusCode, body
	}
	ids := []string{"AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBA"}
	file(ids[0], "holder-a")
	file(ids[1], "holder-a")

	status, body := call("get-declarations-pending.json", "holder-a", "")
	if list, _ := body["declarations"].([]any); status != 200 || len(list) != 2 {
		t.Fatalf("pending list: %d %v", status, body)
	}
	if status, body := call("get-declarations-pending.json", "holder-b", ""); status != 200 || len(body["declarations"].([]any)) != 0 {
		t.Errorf("another holder's list: %d %v", status, body)
	}
	if status, _ := call("post-declaration-confirm.json", "holder-b", ids[0]); status != http.StatusNotFound {
		t.Errorf("another holder confirms: %d", status)
	}
	if status, body := call("post-declaration-confirm.json", "holder-a", ids[0]); status != 200 || body["status"] != "accepted" {
		t.Errorf("confirm: %d %v", status, body)
	}
	clock.Advance(time.Hour)
	status, body = call("post-declaration-confirm.json", "holder-a", ids[1])
	if status != http.StatusConflict || body["error"].(map[string]any)["code"] != string(apperr.Conflict) {
		t.Errorf("confirm at the deadline: %d %v", status, body)
	}
	if got, _ := store.Declaration(ctx, ids[1]); got.AsOf(clock.Now()).Status != declaration.Expired {
		t.Errorf("after the deadline it reads %s", got.AsOf(clock.Now()).Status)
	}
	if l := logs.String(); strings.Contains(l, "holder-a") || strings.Contains(l, "P247732688745") {
		t.Error("the logs name the holder or the code")
	}
}

// DecodeFile names the check's bad fields and the goods' in one 400.
func TestDecodeFileNamesEveryField(t *testing.T) {
	req := &httpapi.Request{Event: events.APIGatewayV2HTTPRequest{
		Headers: map[string]string{"content-type": "application/json"},
		Body:    `{"code":"P1","name":"HONG GILDONG","phone":"x","zip":"04524","waybill":"CJ123456","items":[{"description":"a","quantity":1}],"value":"1","currency":"usd"}`,
	}}
	_, err := DecodeFile(req)
	f := apperr.As(err).Fields
	if apperr.As(err).Code != apperr.Invalid || f["code"] == "" || f["phone"] == "" || f["currency"] == "" || len(f) != 3 {
		t.Fatalf("DecodeFile: %v %v", err, f)
	}
}
