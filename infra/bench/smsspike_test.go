package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/localstack"
)

// A short SMS spike on each test stack: a provider at 20/s, starts at five
// times that for 2 s, notices beside, a 1 s admission bound. Every check
// of make bench's SMS spike holds: no code late or lost, every refusal
// with Retry-After and a place in line, the provider's rate never
// overrun, every notice sent after the spike within its bound; and the
// bound did refuse some (the spike is five times the rate).
func TestShortSMSSpike(t *testing.T) {
	kinds, err := localstack.TestKinds()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	tpl := filepath.Join(wd, "..", "..", "template.yaml")
	for _, kind := range kinds {
		t.Run(string(kind), func(t *testing.T) {
			r, err := SMSSpike(context.Background(), tpl, kind, SMSSpikeOptions{
				Rate: 20, Factor: 5, Duration: 2 * time.Second, NoticeRate: 10, MaxWait: time.Second, NoticeDelay: time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range SMSChecks(r) {
				if !c.Met {
					t.Errorf("%s: %s, want %s", c.Item, c.Figure, c.Target)
				}
			}
			if r.Offered != 200 || r.Refused == 0 || r.Accepted < 20 || r.CodesSent < 20 || r.Notices < 10 {
				t.Errorf("offered %d, refused %d, accepted %d, sent %d, notices %d", r.Offered, r.Refused, r.Accepted, r.CodesSent, r.Notices)
			}
			var b strings.Builder
			WriteSMSSpike(&b, r)
			for _, want := range []string{"codes sent late", "Retry-After", "p50 / p99", "notices queued"} {
				if !strings.Contains(b.String(), want) {
					t.Errorf("report lacks %q", want)
				}
			}
			t.Log("\n" + b.String())
		})
	}
}
