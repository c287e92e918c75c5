package e2e

import (
	"context"
	"maps"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/functions"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/platform"
)

// TestAdmissionControl: with the workers stalled, the line grows; a command
// whose estimated wait passes ADMIT_MAX_WAIT is refused at once with 503
// and Retry-After, queued ones say where they stand, and when the workers
// come back every queued command is carried out.
func TestAdmissionControl(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		release := make(chan struct{})
		reg := maps.Clone(functions.Registry)
		reg["codeworker"] = func(ctx context.Context, d platform.Deps) (any, error) {
			h, err := codeapi.BuildWorker(ctx, d)
			if err != nil {
				return nil, err
			}
			real := h.(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error))
			return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
				<-release // stalled until the test lets the workers go
				return real(ctx, ev)
			}, nil
		}
		s := startWith(t, kind, sessionEnv(map[string]string{"WORKER_RATE": "1", "ADMIT_MAX_WAIT": "4s"}), reg)
		defer func() {
			select {
			case <-release:
			default:
				close(release)
			}
		}()
		toks := make([]string, 6)
		var ids []string
		for i := range toks {
			toks[i] = mint(t, "admission-"+string(kind)+"-"+strconv.Itoa(i))
		}
		// At one command a second, four in line wait four seconds: the
		// bound. The fifth would wait five.
		for i := 0; i < 4; i++ {
			ids = append(ids, accepted(t, s.call(t, "POST", "/v1/codes", toks[i], "", issueBody())))
		}
		r := s.call(t, "POST", "/v1/codes", toks[4], "", issueBody())
		if r.status != 503 || r.errCode != "OVERLOADED" || r.header.Get("Retry-After") == "" {
			t.Fatalf("the fifth command: %d %s", r.status, r.raw)
		}
		if retry, _ := strconv.Atoi(r.header.Get("Retry-After")); retry < 1 || retry > 10 {
			t.Errorf("Retry-After %d", retry)
		}
		v := s.call(t, "GET", "/v1/requests/"+ids[3], toks[3], "", "")
		if v.body["status"] != "queued" || v.body["position"] == nil || v.body["estimatedWaitSeconds"] == nil {
			t.Fatalf("a queued request: %s", v.raw)
		}
		if pos := v.body["position"].(float64); pos < 1 || pos > 4 {
			t.Errorf("position %v", pos)
		}
		close(release)
		for i, id := range ids {
			s.succeeded(t, toks[i], id)
		}
		// The line drained: commands are taken again (the depth is read
		// again after at most a second).
		deadline := time.Now().Add(10 * time.Second)
		for {
			r = s.call(t, "POST", "/v1/codes", toks[5], "", issueBody())
			if r.status == 202 || time.Now().After(deadline) {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r.status != 202 {
			t.Fatalf("after the drain: %d %s", r.status, r.raw)
		}
	})
}
