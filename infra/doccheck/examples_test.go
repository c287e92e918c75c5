package doccheck

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// a small service the examples below talk to.
func service(t *testing.T) *httptest.Server {
	var polls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "POST" && r.URL.Path == "/v1/things":
			b, _ := io.ReadAll(r.Body)
			if !strings.Contains(string(b), `"name"`) || r.Header.Get("Authorization") != "Bearer tok-1" {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":{"code":"INVALID_ARGUMENT","fields":{"name":"required"}}}`)
				return
			}
			w.WriteHeader(202)
			fmt.Fprint(w, `{"requestId":"r-42","status":"queued","extra":true}`)
		case r.URL.Path == "/v1/requests/r-42":
			if polls.Add(1) < 3 {
				fmt.Fprint(w, `{"requestId":"r-42","status":"queued"}`)
				return
			}
			fmt.Fprint(w, `{"requestId":"r-42","status":"succeeded","code":"P123","list":[1,2,3]}`)
		case r.URL.Path == "/sms":
			fmt.Fprint(w, `{"messages":[{"text":"old 111111"},{"text":"[x] 인증번호 483920 (3분)"}]}`)
		default:
			w.WriteHeader(404)
			fmt.Fprint(w, `{"error":{"code":"NOT_FOUND"}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

const exampleDoc = "# Doc\n\n```sh\nU=http://127.0.0.1:8080\nTOKEN=tok-1\nA=\"Authorization: Bearer $TOKEN\"; J='Content-Type: application/json'\n" +
	"curl -s -X POST $U/v1/things -H \"$A\" -H \"$J\" \\\n  -d '{\"name\": \"x\"}'\n" +
	"# 202 {\"requestId\":\"$REQ\",\"status\":\"queued\"}\n" +
	"curl -s $U/v1/requests/$REQ\n# 200 {\"requestId\":\"$REQ\",\"status\":\"succeeded\",\n#      \"code\":\"…\",\"list\":[1,…]}\n" +
	"curl -s \"$U/sms\"   # 200 {\"messages\":[…,{\"text\":\"[x] 인증번호 $OTP (…\"}]}\n" +
	"curl -s $U/nothing\n# 404 {\"error\":{\"code\":\"NOT_FOUND\"},…}\nmake run   # shown, not run\n```\n\n```json\n{\"not\": \"run\"}\n```\n"

func TestExamplesRunAndCapture(t *testing.T) {
	srv := service(t)
	// A=...; J=... on one line is two assignments in the shell; the
	// examples keep one a line.
	doc := strings.Replace(exampleDoc, "A=\"Authorization: Bearer $TOKEN\"; J='Content-Type: application/json'\n", "A=\"Authorization: Bearer $TOKEN\"\nJ='Content-Type: application/json'\n", 1)
	steps, err := Examples("doc.md", doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 8 {
		t.Fatalf("%d steps: %+v", len(steps), steps)
	}
	e := &Env{Vars: map[string]string{"U": srv.URL}, Fixed: map[string]bool{"U": true}, HTTP: srv.Client(), Wait: 5 * time.Second}
	if err := e.Run(context.Background(), steps); err != nil {
		t.Fatal(err)
	}
	if e.Vars["REQ"] != "r-42" || e.Vars["OTP"] != "483920" || e.Vars["U"] != srv.URL {
		t.Errorf("vars: %v", e.Vars)
	}
}

// A changed status, a changed field, a value that differs from the one
// kept, and a missing answer are each refused, naming the line.
func TestExamplesFail(t *testing.T) {
	srv := service(t)
	base := "```sh\nA=\"Authorization: Bearer tok-1\"\ncurl -s -X POST $U/v1/things -H \"$A\" -d '{\"name\": \"x\"}'\n"
	for name, tt := range map[string]struct{ doc, want string }{
		"status":   {base + "# 201 {\"requestId\":\"$REQ\"}\n```\n", "answered 202, the example shows 201"},
		"field":    {base + "# 202 {\"status\":\"done\"}\n```\n", `.status: "queued", the example shows "done"`},
		"missing":  {base + "# 202 {\"nope\":1}\n```\n", ".nope: missing"},
		"kept":     {"```sh\nREQ=r-1\n```\n" + base + "# 202 {\"requestId\":\"$REQ\"}\n```\n", `the example shows $REQ = "r-1"`},
		"poll":     {base + "# 202 {}\ncurl -s $U/v1/requests/r-42\n# 200 {\"status\":\"failed\"}\n```\n", `"succeeded", the example shows "failed"`},
		"unset":    {"```sh\ncurl -s $U/v1/requests/$NOPE\n# 200\n```\n", "$NOPE is used before it is set"},
		"bad body": {base + "# 400 {\"error\":{\"code\":\"INVALID_ARGUMENT\"}}\n```\n", "answered 202, the example shows 400"},
	} {
		t.Run(name, func(t *testing.T) {
			steps, err := Examples("doc.md", tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			e := &Env{Vars: map[string]string{"U": srv.URL}, HTTP: srv.Client(), Wait: time.Second}
			err = e.Run(context.Background(), steps)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "doc.md:") {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
	for name, doc := range map[string]string{
		"no answer":   "```sh\ncurl -s $U/x\n```\n",
		"bad JSON":    "```sh\ncurl -s $U/x\n# 200 {\"a\":\n```\n",
		"unknown cmd": "```sh\nrm -rf /tmp/x\n```\n",
		"open quote":  "```sh\ncurl -s '$U/x\n# 200\n```\n",
	} {
		if _, err := Examples("doc.md", doc); err == nil {
			t.Errorf("%s: read without an error", name)
		}
	}
}

func TestExampleCommands(t *testing.T) {
	doc := "```sh\nAWS_ENDPOINT_URL_DYNAMODB=$DYNAMODB TABLE_NAME=pccc-local-Table \\\n  go run ./infra/cmd/pccc-keys create -owner \"ACME Customs\" -rate 10\n# owner:  ACME Customs\n# key:    $KEY\n```\n"
	steps, err := Examples("doc.md", doc)
	if err != nil {
		t.Fatal(err)
	}
	var gotArgs []string
	var gotEnv map[string]string
	e := &Env{Vars: map[string]string{"DYNAMODB": "http://127.0.0.1:1"}, Commands: map[string]func(context.Context, []string, map[string]string, io.Writer) error{
		"./infra/cmd/pccc-keys": func(_ context.Context, args []string, env map[string]string, out io.Writer) error {
			gotArgs, gotEnv = args, env
			fmt.Fprint(out, "key id: 99\nowner:  ACME Customs\nrole:   broker\nkey:    pccc.99.secret\n")
			return nil
		},
	}}
	if err := e.Run(context.Background(), steps); err != nil {
		t.Fatal(err)
	}
	if strings.Join(gotArgs, "|") != "create|-owner|ACME Customs|-rate|10" || gotEnv["AWS_ENDPOINT_URL_DYNAMODB"] != "http://127.0.0.1:1" || gotEnv["TABLE_NAME"] != "pccc-local-Table" {
		t.Errorf("args %q env %v", gotArgs, gotEnv)
	}
	if e.Vars["KEY"] != "pccc.99.secret" {
		t.Errorf("KEY = %q", e.Vars["KEY"])
	}
}
