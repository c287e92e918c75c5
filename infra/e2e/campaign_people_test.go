package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/localstack"
)

// People first, before any backlog: while people's commands are taken
// faster than CAMPAIGN_YIELD_RATE a second, a confirmed campaign's items
// wait on their queue though the public queue is short; once people stop,
// the campaign runs to its end, every code carried out once.
func TestCampaignWaitsForPeople(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, sessionEnv(map[string]string{
			"CAMPAIGN_MAX_RATE": "5000", "CAMPAIGN_WAIT": "1s", "CAMPAIGN_YIELD_RATE": "5",
		}))
		auth := s.makeKey(t, "Korea Customs Service", "authority")
		const n = 200
		live, _, _ := s.seedHolders(t, 940, n)
		_, _, people := s.seedHolders(t, 941, 8)
		toks := make([]string, len(people))
		for i, hk := range people {
			toks[i] = mint(t, hk)
		}

		// People's reissues, four at a time, until told to stop: taken by
		// the gate (and so counted) whether or not the year's quota lets
		// them through.
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var sent, failed atomic.Int64
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("POST", s.url+"/v1/codes/me/reissue", strings.NewReader(`{"reason":"lost"}`))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+toks[(g+4*i)%len(toks)])
					req.Header.Set("Idempotency-Key", "people-"+strconv.Itoa(g)+"-"+strconv.Itoa(i))
					resp, err := http.DefaultClient.Do(req)
					if err != nil || resp.StatusCode >= 500 {
						failed.Add(1)
					}
					if err == nil {
						resp.Body.Close()
					}
					sent.Add(1)
					time.Sleep(25 * time.Millisecond) // at most 160/s: under the gate's rate bound
				}
			}()
		}
		stopped := false
		halt := func() {
			if !stopped {
				stopped = true
				close(stop)
				wg.Wait()
			}
		}
		defer halt()
		time.Sleep(1500 * time.Millisecond) // the gate's counter has whole windows of them

		rep := s.authority(t, auth, "POST", "/v1/authority/campaigns", campaignBody("suspend", false, live))
		id, _ := rep.body["campaignId"].(string)
		if rep.status != http.StatusCreated || id == "" {
			t.Fatalf("create: %d %s", rep.status, rep.raw)
		}
		s.campaignIn(t, auth, id, time.Minute, "awaiting_confirmation")
		if r := s.authority(t, auth, "POST", "/v1/authority/campaigns/"+id+"/confirm", ""); r.status != 200 {
			t.Fatalf("confirm: %d %s", r.status, r.raw)
		}
		// Unyielding, 200 items at the campaign's 50/s take four seconds;
		// people keep coming for six, and the campaign waits for them.
		time.Sleep(6 * time.Second)
		during := s.processedOf(t, auth, id)
		before := sent.Load()
		halt()
		if rate := float64(before) / 7.5; rate < 20 {
			t.Fatalf("people's commands came at %.0f/s, too few to judge (want well past the bound of 5/s)", rate)
		}
		if during > 20 {
			t.Errorf("%d of %d items carried out while people's commands came at %.0f/s (bound 5/s)", during, n, float64(before)/7.5)
		}
		if f := failed.Load(); f != 0 {
			t.Errorf("%d of people's calls failed or answered 5xx", f)
		}
		v := s.campaignIn(t, auth, id, 2*time.Minute, "complete", "failed")
		if tot := totalsOf(v); v["state"] != "complete" || tot["done"] != n || tot["processed"] != n {
			t.Fatalf("after people stopped: %s %v", v["state"], tot)
		}
		t.Logf("%d items while people came (%d calls in 7.5 s); all %d done after", during, before, n)
	})
}
