package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pccc/pccc/infra/keyadmin"
	"github.com/pccc/pccc/infra/loadgen"
	"github.com/pccc/pccc/shared/dynamo"
)

// CampaignSpikeResult is a spike run with an authority campaign going on
// behind it, beside the same spike without one.
type CampaignSpikeResult struct {
	Codes, Rate int
	Spike       SpikeResult
	// ProcessedAtSpikeEnd is how many of the campaign's codes were
	// carried out when the spike's backlog had drained; Ended how long
	// after that the campaign ended.
	ProcessedAtSpikeEnd int64
	// ProcessedAtSpikeStart is how many it had carried out when the
	// spike began (its list already queued).
	ProcessedAtSpikeStart int64
	Ended                 time.Duration
	State                 string
	Totals                map[string]int64
}

// SeedCampaignHolders writes n holders with a live code each, the
// campaign's list, and returns their codes. make bench seeds them before
// the first spike, so the spikes without the campaign run on the same
// table as the one with it.
func SeedCampaignHolders(ctx context.Context, s *System, n int) ([]string, error) {
	live, _, _, err := SeedHolders(ctx, s.Clients.DynamoDB, TableName, 720, n)
	return live, err
}

// CampaignSpike starts a reissue campaign of the codes live (seeded by
// SeedCampaignHolders) at rate a second (confirmed: active), and plays
// profile against the system's own holders while it runs; then it waits
// for the campaign to end. The campaign workers yield to the public
// queue's backlog past the system's CAMPAIGN_YIELD_BACKLOG, and to
// people's commands past its CAMPAIGN_YIELD_RATE.
func CampaignSpike(ctx context.Context, s *System, toks []string, profile loadgen.Profile, live []string, rate int, drainRate float64) (CampaignSpikeResult, error) {
	n := len(live)
	res := CampaignSpikeResult{Codes: n, Rate: rate}
	key, err := authorityKey(ctx, s)
	if err != nil {
		return res, err
	}
	path, err := s.startCampaign(ctx, key, fmt.Sprintf(`{"action":"reissue","reason":"leak_concern","ratePerSecond":%d,"list":"upload"}`, rate), live)
	if err != nil {
		return res, err
	}
	// The spike meets the campaign running: its list read and queued (the
	// reader's fan-out done), its workers carrying items out.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		v, err := s.campaignIn(ctx, key, path, time.Minute, "active")
		if err != nil {
			return res, err
		}
		if t := totalsOf(v); t["queued"] >= int64(n) && t["processed"] > 0 {
			res.ProcessedAtSpikeStart = t["processed"]
			break
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("campaign %s not queued and running within 3m: %v", path, v["totals"])
		}
		time.Sleep(200 * time.Millisecond)
	}
	if res.Spike, err = Spike(ctx, s, "Spike with a campaign behind it", toks, profile, People, drainRate); err != nil {
		return res, err
	}
	spikeEnd := time.Now()
	v, err := s.campaignIn(ctx, key, path, time.Minute, "active", "paused", "complete", "failed", "cancelled")
	if err != nil {
		return res, err
	}
	res.ProcessedAtSpikeEnd = totalsOf(v)["processed"]
	// At the rate, with room for the machine's noise.
	within := time.Duration(float64(n)/float64(rate)*float64(time.Second))*3 + 2*time.Minute
	if v, err = s.campaignIn(ctx, key, path, within, "complete", "failed", "cancelled"); err != nil {
		return res, err
	}
	res.Ended = time.Since(spikeEnd)
	res.State, _ = v["state"].(string)
	res.Totals = totalsOf(v)
	return res, nil
}

// authorityKey makes an API key of the authority's role with the
// operator's command and returns its Authorization value.
func authorityKey(ctx context.Context, s *System) (string, error) {
	var out, errOut strings.Builder
	st := dynamo.NewAPIKeyStore(s.Clients.DynamoDB, TableName)
	if err := keyadmin.Run(ctx, st, []string{"create", "-owner", "Korea Customs Service", "-role", "authority"}, time.Now, &out, &errOut); err != nil {
		return "", fmt.Errorf("create key: %w (%s)", err, errOut.String())
	}
	m := keyLine.FindStringSubmatch(out.String())
	if m == nil {
		return "", fmt.Errorf("pccc-keys create printed %q", out.String())
	}
	return "ApiKey " + m[2], nil
}

// startCampaign creates an uploaded campaign from body, uploads lines,
// confirms the upload and then the campaign, and returns its path once it
// is active.
func (s *System) startCampaign(ctx context.Context, auth, body string, lines []string) (string, error) {
	rep, err := s.retried(ctx, http.MethodPost, "/v1/authority/campaigns", auth, body, http.StatusCreated)
	if err != nil {
		return "", err
	}
	id, _ := rep.Body["campaignId"].(string)
	upload, _ := rep.Body["uploadUrl"].(string)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, upload, strings.NewReader(strings.Join(lines, "\r\n")+"\r\n"))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "text/csv")
	put, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	put.Body.Close()
	if put.StatusCode != http.StatusOK {
		return "", fmt.Errorf("upload: HTTP %d", put.StatusCode)
	}
	path := "/v1/authority/campaigns/" + id
	if _, err := s.retried(ctx, http.MethodPost, path+"/confirm", auth, "", http.StatusOK); err != nil {
		return "", fmt.Errorf("confirm the upload: %w", err)
	}
	if _, err := s.campaignIn(ctx, auth, path, 2*time.Minute, "awaiting_confirmation"); err != nil {
		return "", err
	}
	if _, err := s.retried(ctx, http.MethodPost, path+"/confirm", auth, "", http.StatusOK); err != nil {
		return "", fmt.Errorf("confirm the campaign: %w", err)
	}
	return path, nil
}

// totalsOf reads a campaign view's totals as numbers ("skipped.<reason>"
// for the skipped ones).
func totalsOf(v map[string]any) map[string]int64 {
	out := map[string]int64{}
	t, _ := v["totals"].(map[string]any)
	for k, x := range t {
		if f, ok := x.(float64); ok {
			out[k] = int64(f)
		}
	}
	if sk, ok := t["skipped"].(map[string]any); ok {
		for k, x := range sk {
			if f, ok := x.(float64); ok {
				out["skipped."+k] = int64(f)
			}
		}
	}
	return out
}

// CampaignSpikeChecks judges the run with the campaign against the spike
// targets, and the campaign's own end.
func CampaignSpikeChecks(alone SpikeResult, r CampaignSpikeResult) []Check {
	var out []Check
	add := func(item, figure, target string, met bool) {
		out = append(out, Check{Item: item, Figure: figure, Target: target, Met: met})
	}
	bad, timeouts := unexpected(r.Spike)
	add("spike with a campaign: 5xx other than 503, timeouts", fmt.Sprintf("%d, %d", bad, timeouts), "0, 0", bad == 0 && timeouts == 0)
	if e, ok := endpoint(r.Spike, EpReissue); ok {
		a, _ := endpoint(alone, EpReissue)
		add("spike with a campaign: accept (reissue) p99", fmt.Sprintf("%s ms (alone: %s ms)", ms(e.P99), ms(a.P99)), "≤ 50 ms", e.P99 <= 50*time.Millisecond)
	}
	add("spike with a campaign: backlog drain vs backlog ÷ worker rate", fmt.Sprintf("%.2f s vs %.2f s (alone: %.2f s vs %.2f s)",
		r.Spike.Drain.Seconds(), r.Spike.Expected.Seconds(), alone.Drain.Seconds(), alone.Expected.Seconds()),
		fmt.Sprintf("at most 10%% longer (or %v)", drainSlack), drained(r.Spike))
	add("the campaign: every code carried out, after the spike", fmt.Sprintf("%s, %d of %d done (%d when the spike had drained), %.0f s after it",
		r.State, r.Totals["done"], r.Codes, r.ProcessedAtSpikeEnd, r.Ended.Seconds()), fmt.Sprintf("complete, %d done", r.Codes),
		r.State == "complete" && r.Totals["done"] == int64(r.Codes))
	return out
}

// WriteCampaignSpike writes the run with the campaign beside the spike
// without it.
func WriteCampaignSpike(w io.Writer, alone SpikeResult, r CampaignSpikeResult) {
	fmt.Fprintf(w, "The same profile again, with a **%d-code reissue campaign** (an uploaded list, confirmed, rate cap %d/s) started just before it on the same system; the spike starts once the campaign's list is queued and its workers are carrying it out. The campaign workers wait while the public command queue's backlog is past `CAMPAIGN_YIELD_BACKLOG` or people's commands are taken faster than `CAMPAIGN_YIELD_RATE` a second (the template's default; a batch holds up to 10 s for them to fall, then puts its items back delayed).\n\n", r.Codes, r.Rate)
	a, _ := endpoint(alone, EpReissue)
	c, _ := endpoint(r.Spike, EpReissue)
	fmt.Fprintf(w, "| figure | spike alone | spike with the campaign |\n|---|---:|---:|\n")
	fmt.Fprintf(w, "| accept (reissue) p50 / p99 (ms) | %s / %s | %s / %s |\n", ms(a.P50), ms(a.P99), ms(c.P50), ms(c.P99))
	fmt.Fprintf(w, "| reissues taken (2xx) /s | %.1f | %.1f |\n", a.Goodput, c.Goodput)
	fmt.Fprintf(w, "| peak backlog | %d | %d |\n", alone.PeakBacklog, r.Spike.PeakBacklog)
	fmt.Fprintf(w, "| drain (s) vs backlog ÷ worker rate (s) | %.2f vs %.2f | %.2f vs %.2f |\n", alone.Drain.Seconds(), alone.Expected.Seconds(), r.Spike.Drain.Seconds(), r.Spike.Expected.Seconds())
	fmt.Fprintf(w, "| host busy | %.0f %% | %.0f %% |\n", 100*alone.Busy, 100*r.Spike.Busy)
	fmt.Fprintf(w, "| host time stolen by other guests | %.1f %% | %.1f %% |\n", 100*alone.Steal, 100*r.Spike.Steal)
	for _, op := range callOps([]SpikeResult{alone, r.Spike}) {
		fmt.Fprintf(w, "| %s p50 / p99 (ms), the API's calls | %s | %s |\n", op, callCell(alone, op), callCell(r.Spike, op))
	}
	fmt.Fprintf(w, "\nThe campaign's list was read and queued and %d of its %d codes carried out when the spike began; %d when the spike's backlog had drained; it ended `%s` %.0f s later with totals %v.\n\n",
		r.ProcessedAtSpikeStart, r.Codes, r.ProcessedAtSpikeEnd, r.State, r.Ended.Seconds(), r.Totals)
	WriteVerdict(w, CampaignSpikeChecks(alone, r))
}
