package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
)

// TestSessionRefresh: POST /v1/sessions/refresh gives the holder a new
// token that works on the holder routes, never past SESSION_MAX_AGE from the
// verification, and refuses a forged token or a session at its cap.
func TestSessionRefresh(t *testing.T) {
	eachStack(t, func(t *testing.T, kind localstack.Kind) {
		s := start(t, kind, map[string]string{"SESSION_TTL": "4s", "SESSION_MAX_AGE": "6s"})
		r := sim.BuiltIn()[0]
		id := s.startVerification(t, r)
		if rep := s.postJSON(t, "/v1/verifications/"+id+"/sms", smsBody(r)); rep.status != http.StatusAccepted {
			t.Fatalf("sms: %d %s", rep.status, rep.raw)
		}
		code := s.waitForCode(t, r.Phone, 0)
		first := s.postJSON(t, "/v1/verifications/"+id+"/confirm", map[string]string{"otp": code})
		tok, _ := first.body["sessionToken"].(string)
		firstExp, err := time.Parse(time.RFC3339, str(first.body["expiresAt"]))
		if tok == "" || err != nil {
			t.Fatalf("confirm: %d %s", first.status, first.raw)
		}
		// The verification time is the first token's expiry less the TTL.
		limit := firstExp.Add(-4 * time.Second).Add(6 * time.Second)

		if rep := s.call(t, "POST", "/v1/sessions/refresh", "", "", ""); rep.status != 401 || rep.errCode != "UNAUTHENTICATED" {
			t.Fatalf("no token: %d %s", rep.status, rep.raw)
		}
		forged := tok[:len(tok)-6] + "AAAAAA"
		if rep := s.call(t, "POST", "/v1/sessions/refresh", forged, "", ""); rep.status != 401 || rep.errCode != "UNAUTHENTICATED" {
			t.Fatalf("forged token: %d %s", rep.status, rep.raw)
		}

		time.Sleep(1100 * time.Millisecond) // the next whole second
		rep := s.call(t, "POST", "/v1/sessions/refresh", tok, "", "")
		fresh, _ := rep.body["sessionToken"].(string)
		exp, err := time.Parse(time.RFC3339, str(rep.body["expiresAt"]))
		if rep.status != 200 || fresh == "" || fresh == tok || err != nil {
			t.Fatalf("refresh: %d %s", rep.status, rep.raw)
		}
		if !exp.After(firstExp) || exp.After(limit) {
			t.Fatalf("refreshed expiry %s: want after %s and at most %s", exp, firstExp, limit)
		}
		// The new token is a holder session: no code yet is a 404, not a 401.
		if me := s.call(t, "GET", "/v1/codes/me", fresh, "", ""); me.status != 404 || me.errCode != "NOT_FOUND" {
			t.Fatalf("GET /v1/codes/me with the new token: %d %s", me.status, me.raw)
		}
		// At the cap the session cannot be extended any more.
		time.Sleep(time.Until(limit) + 100*time.Millisecond)
		if rep := s.call(t, "POST", "/v1/sessions/refresh", fresh, "", ""); rep.status != 401 || rep.errCode != "UNAUTHENTICATED" {
			t.Fatalf("refresh at the cap: %d %s", rep.status, rep.raw)
		}
	})
}

func str(v any) string { s, _ := v.(string); return s }
