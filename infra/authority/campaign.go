package authority

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// CampaignUsage is the campaign command's help.
const CampaignUsage = `usage: pccc-authority campaign [-api URL] <command>

  create -action suspend|reissue|resume|notify -reason leak_concern|misuse_suspected|other
         -rate N -list FILE [-dry-run]
                       a campaign on the codes of FILE (one a line, up to 1,000,000),
                       uploaded to the presigned URL the API hands out; prints its id
  show ID              its state, totals, rate and estimated end (JSON)
  confirm ID           start it (it awaits confirmation once its list is read)
  pause ID | resume ID | cancel ID
  report ID -o FILE [-failed]
                       its report CSV (line,code,outcome,reason), or with -failed its
                       failed codes, a list a new campaign can take

The API is -api or $PCCC_API_URL; the authority's API key is $PCCC_API_KEY
(a key of role authority; pccc-keys create -role authority).
`

// RunCampaign carries out the campaign command (args after "campaign")
// through the API, as the authority's own systems would.
func RunCampaign(ctx context.Context, args []string, getenv func(string) string, client *http.Client, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("campaign", flag.ContinueOnError)
	fs.SetOutput(stderr)
	api := fs.String("api", getenv("PCCC_API_URL"), "the API's base URL")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key := getenv("PCCC_API_KEY")
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, CampaignUsage)
		return errors.New("campaign: want create, show, confirm, pause, resume, cancel or report")
	}
	if *api == "" || key == "" {
		return errors.New("campaign: -api (or $PCCC_API_URL) and $PCCC_API_KEY are required")
	}
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	c := &apiClient{base: strings.TrimRight(*api, "/"), key: key, http: client}
	switch cmd := rest[0]; cmd {
	case "create":
		return c.create(ctx, rest[1:], stdout, stderr)
	case "show", "confirm", "pause", "resume", "cancel":
		if len(rest) != 2 {
			return fmt.Errorf("campaign %s: want one campaign id", cmd)
		}
		method, path := http.MethodPost, "/v1/authority/campaigns/"+rest[1]+"/"+cmd
		if cmd == "show" {
			method, path = http.MethodGet, "/v1/authority/campaigns/"+rest[1]
		}
		v, err := c.call(ctx, method, path, nil)
		if err != nil {
			return err
		}
		return printJSON(stdout, v)
	case "report":
		return c.report(ctx, rest[1:], stdout, stderr)
	default:
		fmt.Fprint(stderr, CampaignUsage)
		return fmt.Errorf("campaign: unknown command %q", cmd)
	}
}

type apiClient struct {
	base, key string
	http      *http.Client
}

// call makes one API call; a 4xx or 5xx is an error naming the API's
// message and fields.
func (c *apiClient) call(ctx context.Context, method, path string, body any) (map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "ApiKey "+c.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v map[string]any
	_ = json.Unmarshal(raw, &v)
	if resp.StatusCode >= 400 {
		e, _ := v["error"].(map[string]any)
		return nil, fmt.Errorf("%s %s: %d %v %v", method, path, resp.StatusCode, e["message"], e["fields"])
	}
	return v, nil
}

func (c *apiClient) create(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	action := fs.String("action", "", "suspend, reissue, resume or notify")
	reason := fs.String("reason", "", "leak_concern, misuse_suspected or other")
	rate := fs.Int("rate", 0, "items a second at most")
	list := fs.String("list", "", "the list: one code a line")
	dry := fs.Bool("dry-run", false, "only count")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *list == "" {
		return errors.New("create: -list FILE is required")
	}
	body, err := os.ReadFile(*list)
	if err != nil {
		return err
	}
	v, err := c.call(ctx, http.MethodPost, "/v1/authority/campaigns", map[string]any{
		"action": *action, "reason": *reason, "ratePerSecond": *rate, "dryRun": *dry, "list": "upload",
	})
	if err != nil {
		return err
	}
	id, _ := v["campaignId"].(string)
	url, _ := v["uploadUrl"].(string)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/csv")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("upload: %d", resp.StatusCode)
	}
	if _, err := c.call(ctx, http.MethodPost, "/v1/authority/campaigns/"+id+"/confirm", nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "campaign %s created; its list (%d bytes) is being read. Then: campaign show %s, campaign confirm %s\n", id, len(body), id, id)
	return nil
}

func (c *apiClient) report(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "the file to write (required)")
	failed := fs.Bool("failed", false, "the failed codes only")
	if len(args) == 0 {
		return errors.New("report: want a campaign id")
	}
	id := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("report: -o FILE is required")
	}
	v, err := c.call(ctx, http.MethodGet, "/v1/authority/campaigns/"+id, nil)
	if err != nil {
		return err
	}
	field := "reportUrl"
	if *failed {
		field = "failedUrl"
	}
	url, _ := v[field].(string)
	if url == "" {
		return fmt.Errorf("report: campaign %s is %v and has no report yet", id, v["state"])
	}
	resp, err := c.http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("report: download %d", resp.StatusCode)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "written to %s (%d bytes)\n", *out, len(b))
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
