package e2e

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
)

// TestBrowserSessionExtend: the warning before the session ends (shown
// 60 s before, so at once with a 62 s session) extends it through
// POST /v1/sessions/refresh: the page holds a new token with a later expiry.
func TestBrowserSessionExtend(t *testing.T) {
	s := start(t, localstack.Embedded, sessionEnv(map[string]string{"SESSION_TTL": "62s"}))
	r := sim.BuiltIn()[0]
	tok := s.sessionFor(t, r)
	j := newJourney(t, s, "ko", r)
	j.p.Goto(s.url + "/")
	exp := time.Now().Add(60 * time.Second).UTC().Format(time.RFC3339)
	held, _ := json.Marshal(map[string]string{"token": tok, "expiresAt": exp})
	var ok bool
	j.p.Eval(`(sessionStorage.setItem('pccc.session', `+strconv.Quote(string(held))+`), true)`, &ok)
	j.p.Goto(s.url + "/me")

	j.p.WaitFor(j.role("dialog", "session.title"), 10*time.Second)
	j.p.Check("session-warning", "")
	j.p.Click(j.role("button", "session.extend"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		var raw string
		j.p.Eval(`sessionStorage.getItem('pccc.session') || ''`, &raw)
		var now struct{ Token, ExpiresAt string }
		_ = json.Unmarshal([]byte(raw), &now)
		got, _ := time.Parse(time.RFC3339, now.ExpiresAt)
		want, _ := time.Parse(time.RFC3339, exp)
		if now.Token != "" && now.Token != tok && got.After(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the extend button left the session as it was (expiry %q, new token: %v)", now.ExpiresAt, now.Token != tok)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserSessionExpiry: when the session runs out, the page leaves the
// holder's pages for "session ended" by itself and the token is gone from
// the tab; verifying again is offered.
func TestBrowserSessionExpiry(t *testing.T) {
	s := start(t, localstack.Embedded, sessionEnv(nil))
	r := sim.BuiltIn()[0]
	tok := s.sessionFor(t, r)
	j := newJourney(t, s, "ko", r)
	j.p.Goto(s.url + "/")
	exp := time.Now().Add(15 * time.Second).UTC().Format(time.RFC3339)
	held, _ := json.Marshal(map[string]string{"token": tok, "expiresAt": exp})
	var ok bool
	j.p.Eval(`(sessionStorage.setItem('pccc.session', `+strconv.Quote(string(held))+`), true)`, &ok)
	j.p.Goto(s.url + "/me")
	// Under a minute left: the warning comes first (the page behind it
	// inert), then, not extended, the end.
	j.p.Find(j.role("dialog", "session.title"))
	j.p.WaitFor(j.role("heading", "ended.title"), 30*time.Second)
	j.p.Find(j.role("link", "ended.again"))
	if st := j.p.Storage(); st.Session["pccc.session"] != "" {
		t.Errorf("after the session ended the tab keeps it: %q", st.Session["pccc.session"][:20])
	}
	if j.p.Has(j.role("button", "signout.button")) {
		t.Error("the sign-out button still shows after the session ended")
	}
	j.p.Check("session-ended", "")
}
