package identityapi

import (
	"io"
	"strings"
	"testing"

	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/logging"
)

// FuzzDecodeVerificationRequest: whatever the body, the endpoint answers
// with a client status (2xx/4xx), never a 5xx or a panic.
func FuzzDecodeVerificationRequest(f *testing.F) {
	seeds := []string{
		`{"name":"HONG GILDONG","rrn":"900101-1234568"}`,
		`{"name":"홍길동","rrn":"9001011234568"}`,
		`{"name":"SMITH JOHN","rrn":"880412-5123456"}`,
		`{"name":null,"rrn":null}`, `{}`, `[]`, `null`, `"x"`, ``, `{`,
		`{"name":"A","rrn":"900101-1234568","x":1}`,
		`{"name":1e999,"rrn":"1"}`, `{"name":"\u0000","rrn":"\ud800"}`,
		`{"name":"` + strings.Repeat("가", 200) + `","rrn":"991231-9999999"}`,
		`{"name":"A","rrn":"000229-3000000"}`, `{"name":"A","rrn":"000229-1000000"}`,
		`{"name":"A","rrn":"900101-1234568"}{"name":"B"}`,
	}
	for _, s := range seeds {
		f.Add(s)
	}
	h := newHarness(f)
	// Long runs would otherwise keep every log line in memory.
	h.handler = httpapi.Handler(logging.New(io.Discard, "info"), httpapi.Routes{RouteStartVerification: StartVerification(h.svc)})
	f.Fuzz(func(t *testing.T, b string) {
		resp := h.post(t, b)
		if resp.StatusCode >= 500 || resp.StatusCode < 200 {
			t.Fatalf("body %q got %d: %s", b, resp.StatusCode, resp.Body)
		}
	})
}
