package identityapi

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/config"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/keyring"
	"github.com/pccc/pccc/shared/logging"
)

func TestRefreshSessionRoute(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	now := t0
	clock := func() time.Time { return now }
	cfg := config.Config{SessionTTL: 15 * time.Minute, SessionMaxAge: 20 * time.Minute}
	cfg.Keys, _ = keyring.ForTest(keyring.Session)
	iss, err := NewSessions(cfg, clock)
	if err != nil {
		t.Fatal(err)
	}
	h := httpapi.Handler(logging.New(io.Discard, "info"), httpapi.Routes{RouteRefreshSession: RefreshSession(iss)})
	call := func(auth string) (int, map[string]any) {
		t.Helper()
		ev := events.APIGatewayV2HTTPRequest{RouteKey: RouteRefreshSession, Headers: map[string]string{}}
		if auth != "" {
			ev.Headers["authorization"] = auth
		}
		resp, err := h(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(resp.Body), &m); err != nil {
			t.Fatalf("body %q: %v", resp.Body, err)
		}
		return resp.StatusCode, m
	}
	tok, _, err := iss.Issue("hk_holder", "ver_1")
	if err != nil {
		t.Fatal(err)
	}
	now = t0.Add(2 * time.Minute)
	code, m := call("Bearer " + tok)
	if code != 200 || m["expiresAt"] != t0.Add(17*time.Minute).Format(time.RFC3339) {
		t.Fatalf("refresh: %d %v", code, m)
	}
	fresh, _ := m["sessionToken"].(string)
	c, err := iss.Verify(fresh)
	if err != nil || c.HolderKey != "hk_holder" || c.VerificationID != "ver_1" {
		t.Fatalf("new token: %+v %v", c, err)
	}
	// Later refreshes stop at the cap, 20 minutes after the verification.
	now = t0.Add(10 * time.Minute)
	if code, m = call("Bearer " + fresh); code != 200 || m["expiresAt"] != t0.Add(20*time.Minute).Format(time.RFC3339) {
		t.Fatalf("capped refresh: %d %v", code, m)
	}
	// No token, a forged one, an expired one: 401 as on every holder route.
	now = t0.Add(18 * time.Minute)
	for name, auth := range map[string]string{"none": "", "forged": "Bearer " + tok[:len(tok)-4] + "AAAA", "expired": "Bearer " + tok} {
		if code, m := call(auth); code != 401 {
			t.Errorf("%s: %d %v", name, code, m)
		}
	}
}
