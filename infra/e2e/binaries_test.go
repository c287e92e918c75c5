package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/infra/keyadmin"
	"github.com/pccc/pccc/infra/lambdabin"
	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
	"github.com/pccc/pccc/shared/dynamo"
)

// binCases says, for every function folder, which settings must each stop
// its cold start when left out: the table for all, the key rings' bucket
// for every function given rings (PCCC_KEYS), and the function's own
// settings its builder requires. A function folder without an entry fails the test, so
// a new function cannot go untested as a built binary.
var binCases = map[string][]string{
	"realname":          {"NOTICE_QUEUE_URL"},
	"smscode":           {"CODE_QUEUE_URL"},
	"smsconfirm":        {},
	"smssender":         {"SMS_MAX_RECEIVES", "NOTICE_QUEUE_URL"},
	"codeissue":         {"COMMAND_QUEUE_URL"},
	"codereissue":       {"COMMAND_QUEUE_URL"},
	"codechange":        {"COMMAND_QUEUE_URL"},
	"codelookup":        {},
	"requeststatus":     {},
	"codeworker":        {"COMMAND_MAX_RECEIVES", "NOTICE_QUEUE_URL"},
	"codeexpiry":        {"COMMAND_QUEUE_URL"},
	"clearancecheck":    {"NOTICE_QUEUE_URL"},
	"holderchecks":      {},
	"openapi":           {},
	"declarationfile":   {},
	"declarationholder": {},
	"statsexport":       {"STATS_BUCKET"},
	"authoritystats":    {},
	// The campaigns' three: the API, the list reader, the workers.
	"authoritycampaigns": {"CAMPAIGN_BUCKET", "CAMPAIGN_CONTROL_QUEUE_URL"},
	"campaignreader":     {"CAMPAIGN_BUCKET", "CAMPAIGN_CONTROL_QUEUE_URL", "CAMPAIGN_QUEUE_URL"},
	"campaignworker":     {"CAMPAIGN_QUEUE_URL", "CAMPAIGN_MAX_RECEIVES", "COMMAND_QUEUE_URL", "BULK_NOTICE_QUEUE_URL"},
}

// fleet is one bootstrap process per function of the template, each under
// a Runtime API of its own, and what each was asked and answered. The
// runner's Invoke hook sends every event to them.
type fleet struct {
	ready chan struct{} // closed once every process asked for its first event
	procs map[string]*lambdabin.Process

	mu    sync.Mutex
	calls map[string]*binCalls
}

type binCalls struct {
	n        int
	errors   []string
	failures int // SQS batch items reported failed
}

func newFleet() *fleet {
	return &fleet{ready: make(chan struct{}), procs: map[string]*lambdabin.Process{}, calls: map[string]*binCalls{}}
}

func (f *fleet) invoke(ctx context.Context, id string, payload []byte) ([]byte, error) {
	select {
	case <-f.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p := f.procs[id]
	if p == nil {
		return nil, fmt.Errorf("no process for %s", id)
	}
	out, err := p.API.Invoke(ctx, payload)
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls[id]
	if c == nil {
		c = &binCalls{}
		f.calls[id] = c
	}
	c.n++
	if err != nil {
		c.errors = append(c.errors, err.Error())
		return nil, err
	}
	var batch events.SQSEventResponse
	if json.Unmarshal(out, &batch) == nil {
		c.failures += len(batch.BatchItemFailures)
	}
	return out, nil
}

func (f *fleet) snapshot(id string) binCalls {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.calls[id]; c != nil {
		return binCalls{n: c.n, errors: slices.Clone(c.errors), failures: c.failures}
	}
	return binCalls{}
}

// processEnv is what Lambda would give the function: its template
// environment as the runner resolves it, the stack's endpoints and
// credentials, Lambda's own variables.
func processEnv(s *system, id, bin string) (map[string]string, error) {
	env, ok := s.run.FunctionEnv(id)
	if !ok {
		return nil, fmt.Errorf("the runner has no function %s", id)
	}
	for _, kv := range append(s.stack.Env(), lambdabin.BaseEnv(filepath.Dir(bin))...) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env, nil
}

// TestBuiltBinaries builds every function as Lambda gets it (static,
// -tags lambda.norpc, for this machine's architecture) and runs each
// bootstrap in a process of its own under a Runtime API of the test's,
// behind the local runner: the API's requests, the queues' batches and the
// schedules' events go to the real binaries, with the environment
// template.yaml gives each, pointed at the local stack. One journey
// reaches every function with the event its trigger sends (an HTTP API
// payload 2.0 for a route, an SQS batch for a queue, a scheduled event);
// each answer is checked: the status the route must give, no batch item
// failed, no function error. Then each function, started without a setting
// it needs, must post /runtime/init/error naming it.
func TestBuiltBinaries(t *testing.T) {
	root := repoRoot(t)
	names, err := lambdabin.Functions(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if _, ok := binCases[n]; !ok {
			t.Errorf("functions/%s has no entry in binCases: say which settings its cold start requires", n)
		}
	}
	for n := range binCases {
		if !slices.Contains(names, n) {
			t.Errorf("binCases names %s, which functions/ does not have", n)
		}
	}
	if t.Failed() {
		return
	}
	bins, err := lambdabin.Build(context.Background(), root, t.TempDir(), names)
	if err != nil {
		t.Fatal(err)
	}
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		fl := newFleet()
		s := startCustom(t, kind, nil, func(_ *localstack.Stack, o *localrun.Options) { o.Invoke = fl.invoke })
		tpl := s.run.Template()
		envs := map[string]map[string]string{}
		for _, f := range tpl.Functions {
			env, err := processEnv(s, f.LogicalID, bins[f.Name()])
			if err != nil {
				t.Fatal(err)
			}
			envs[f.LogicalID] = env
			p, err := lambdabin.Start(bins[f.Name()], lambdabin.EnvList(env), s.logs)
			if err != nil {
				t.Fatalf("%s: %v", f.LogicalID, err)
			}
			t.Cleanup(func() { _ = p.Close() })
			fl.procs[f.LogicalID] = p
		}
		for id, p := range fl.procs {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := p.WaitReady(ctx)
			cancel()
			if err != nil {
				t.Fatalf("%s did not start: %v", id, err)
			}
		}
		close(fl.ready)

		binJourney(t, s)

		// Every function answered at least one event of each of its
		// triggers' kinds, none with an error.
		for _, f := range tpl.Functions {
			c := fl.snapshot(f.LogicalID)
			switch {
			case c.n == 0:
				t.Errorf("%s (functions/%s) was never invoked: the journey must reach it", f.LogicalID, f.Name())
			case len(c.errors) > 0:
				t.Errorf("%s answered %d of %d events with an error: %v", f.LogicalID, len(c.errors), c.n, c.errors)
			case c.failures > 0:
				t.Errorf("%s reported %d batch items failed", f.LogicalID, c.failures)
			}
			if p := fl.procs[f.LogicalID]; p.Stderr() != "" {
				t.Logf("%s stderr: %s", f.LogicalID, p.Stderr())
			}
		}

		// A missing setting ends the cold start with /runtime/init/error
		// naming it.
		for _, f := range tpl.Functions {
			needs := append([]string{"TABLE_NAME"}, binCases[f.Name()]...)
			if envs[f.LogicalID]["PCCC_KEYS"] != "" {
				// A function given key rings cannot start without the
				// bucket they are kept in.
				needs = append(needs, "PCCC_KEYS_BUCKET")
			}
			for _, name := range needs {
				env := maps.Clone(envs[f.LogicalID])
				if _, ok := env[name]; !ok {
					t.Errorf("%s: the template gives no %s to take away", f.LogicalID, name)
					continue
				}
				delete(env, name)
				msg, err := initFailure(bins[f.Name()], env)
				if err != nil {
					t.Errorf("%s without %s: %v", f.LogicalID, name, err)
				} else if !strings.Contains(msg, name) {
					t.Errorf("%s without %s: the init error %q does not name it", f.LogicalID, name, msg)
				}
			}
		}
	})
}

// initFailure starts a bootstrap that must fail its cold start and returns
// the message it posted to /runtime/init/error.
func initFailure(bin string, env map[string]string) (string, error) {
	p, err := lambdabin.Start(bin, lambdabin.EnvList(env), nil)
	if err != nil {
		return "", err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = p.WaitReady(ctx)
	var fe *lambdabin.FunctionError
	if !errors.As(err, &fe) {
		return "", fmt.Errorf("want an init error, got %v", err)
	}
	select {
	case <-p.Exited():
	case <-ctx.Done():
		return "", errors.New("reported its init error but did not exit")
	}
	if p.ExitErr() == nil {
		return "", errors.New("exited 0 after an init error")
	}
	return fe.Message, nil
}

// binJourney reaches every function through the runner: the identity
// steps (and the SMS sender, by its queue), a code issued, looked up,
// checked by a broker, declared, reissued and suspended by the worker, the
// holder's lists, the authority's figures and both schedules.
func binJourney(t *testing.T, s *system) {
	t.Helper()
	if r := s.do(t, http.MethodGet, "/v1/openapi.json", "", ""); r.status != http.StatusOK || r.body["openapi"] == nil {
		t.Fatalf("openapi: %d %.200s", r.status, r.raw)
	}
	// realname, smscode, smssender (SQS), smsconfirm.
	tok := s.sessionFor(t, sim.BuiltIn()[0])
	if r := s.call(t, http.MethodPost, "/v1/sessions/refresh", tok, "", ""); r.status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r.status, r.raw)
	}
	// codeissue, codeworker (SQS), requeststatus.
	v := s.succeeded(t, tok, accepted(t, s.call(t, http.MethodPost, "/v1/codes", tok, "", issueBody())))
	code, _ := v["code"].(string)
	if r := s.call(t, http.MethodGet, "/v1/codes/me", tok, "", ""); r.status != http.StatusOK || r.body["code"] != code {
		t.Fatalf("lookup: %d %s", r.status, r.raw)
	}
	// clearancecheck and declarationfile with a broker's key.
	key, _ := newKey(t, s, "Binary Test Broker", 100)
	if r := s.check(t, "ApiKey "+key, checkBody(code, markerKorean, "010-7777-8888", "04524")); r.status != http.StatusOK || r.body["result"] != "match" {
		t.Fatalf("clearance check: %d %s", r.status, r.raw)
	}
	decl := s.filed(t, key, code, "accepted")
	if r := s.brokerView(t, key, decl); r.status != http.StatusOK {
		t.Fatalf("declaration view: %d %s", r.status, r.raw)
	}
	// declarationholder, holderchecks.
	if r := s.call(t, http.MethodGet, "/v1/declarations", tok, "", ""); r.status != http.StatusOK {
		t.Fatalf("holder's declarations: %d %s", r.status, r.raw)
	}
	if r := s.call(t, http.MethodGet, "/v1/clearance/checks", tok, "", ""); r.status != http.StatusOK {
		t.Fatalf("holder's checks: %d %s", r.status, r.raw)
	}
	// codereissue and codechange, carried out by the worker.
	s.succeeded(t, tok, accepted(t, s.call(t, http.MethodPost, "/v1/codes/me/reissue", tok, "", `{"reason":"leak_concern"}`)))
	s.succeeded(t, tok, accepted(t, s.call(t, http.MethodPost, "/v1/codes/me/suspend", tok, "", `{"reason":"misuse_suspected"}`)))
	// The schedules: codeexpiry, statsexport.
	for _, id := range []string{"ExpiryFunctionDaily", "StatsExportFunctionDaily"} {
		if r := s.do(t, http.MethodPost, "/_local/schedules/"+id, "", ""); r.status != http.StatusOK {
			t.Fatalf("schedule %s: %d %s", id, r.status, r.raw)
		}
	}
	// authoritystats with the authority's key.
	auth, _ := newAuthorityKey(t, s)
	day := time.Now().In(seoul).Format("2006-01-02")
	r := s.send(t, http.MethodGet, "/v1/authority/stats?from="+day+"&to="+day, map[string]string{"Authorization": "ApiKey " + auth}, "")
	if r.status != http.StatusOK {
		t.Fatalf("authority stats: %d %s", r.status, r.raw)
	}
	// authoritycampaigns, campaignreader (control queue), campaignworker
	// (campaign queue) and the bulk notice it queues: a notice campaign
	// to the holder's code, confirmed, to its end.
	now := s.call(t, http.MethodGet, "/v1/codes/me", tok, "", "")
	current, _ := now.body["code"].(string)
	rep := s.authority(t, auth, http.MethodPost, "/v1/authority/campaigns", campaignBody("notify", false, []string{current}))
	if rep.status != http.StatusCreated {
		t.Fatalf("create a campaign: %d %s", rep.status, rep.raw)
	}
	id, _ := rep.body["campaignId"].(string)
	s.campaignIn(t, auth, id, 30*time.Second, "awaiting_confirmation")
	if r := s.authority(t, auth, http.MethodPost, "/v1/authority/campaigns/"+id+"/confirm", ""); r.status != http.StatusOK {
		t.Fatalf("confirm the campaign: %d %s", r.status, r.raw)
	}
	if tot := totalsOf(s.campaignIn(t, auth, id, 30*time.Second, "complete", "failed")); tot["done"] != 1 {
		t.Fatalf("the campaign's totals: %v", tot)
	}
}

var seoul = time.FixedZone("KST", 9*3600)

// newAuthorityKey makes an authority key with the operator's command.
func newAuthorityKey(t *testing.T, s *system) (key, id string) {
	t.Helper()
	var out, errOut bytes.Buffer
	st := dynamo.NewAPIKeyStore(clients(t, s).DynamoDB, localTable)
	if err := keyadmin.Run(context.Background(), st, []string{"create", "-owner", "Korea Customs Service", "-role", "authority"}, time.Now, &out, &errOut); err != nil {
		t.Fatalf("create key: %v (%s)", err, errOut.String())
	}
	m := keyLine.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("create printed %q", out.String())
	}
	return m[2], m[1]
}
