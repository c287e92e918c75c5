package idempotency

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/session"
)

// memStore is a small fake of our own Store interface.
type memStore struct {
	mu   sync.Mutex
	recs map[string]Record
}

func (m *memStore) Claim(_ context.Context, rec Record, now time.Time) (Record, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := rec.Scope + "#" + rec.Key
	if old, ok := m.recs[k]; ok && !old.ExpiresAt.Before(now) && !(old.Status == InProgress && old.InProgressUntil.Before(now)) {
		return old, false, nil
	}
	m.recs[k] = rec
	return rec, true, nil
}

func (m *memStore) Complete(_ context.Context, rec Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[rec.Scope+"#"+rec.Key] = rec
	return nil
}

func (m *memStore) Release(_ context.Context, rec Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, rec.Scope+"#"+rec.Key)
	return nil
}

func request(key, body string) *httpapi.Request {
	return &httpapi.Request{Event: events.APIGatewayV2HTTPRequest{
		RouteKey: "POST /v1/codes/me/reissue", Body: body,
		Headers: map[string]string{"idempotency-key": key},
	}}
}

func TestParseKey(t *testing.T) {
	for _, ok := range []string{"", "a", strings.Repeat("k", 128), "550e8400-e29b-41d4-a716-446655440000", "~ !"} {
		if _, err := ParseKey(ok); err != nil {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{strings.Repeat("k", 129), "tab\there", "é", "nul\x00"} {
		if _, err := ParseKey(bad); apperr.As(err).Fields[Header] == "" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestGuard(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	g := &Guard{Store: &memStore{recs: map[string]Record{}}, Now: func() time.Time { return clock }}
	calls := 0
	answer := func(resp *httpapi.Response, err error) session.HolderEndpoint {
		return func(context.Context, *httpapi.Request, session.Claims) (*httpapi.Response, error) {
			calls++
			return resp, err
		}
	}
	alice, bob := session.Claims{HolderKey: "alice"}, session.Claims{HolderKey: "bob"}
	ok := g.Holder(answer(httpapi.JSON(http.StatusAccepted, map[string]string{"requestId": "r1"}), nil))

	first, err := ok(ctx, request("k1", `{"reason":"lost"}`), alice)
	if err != nil || first.Status != 202 || calls != 1 {
		t.Fatalf("first: %+v %v", first, err)
	}
	again, err := ok(ctx, request("k1", `{"reason":"lost"}`), alice)
	if err != nil || calls != 1 || again.Status != 202 || string(again.Body.(json.RawMessage)) != `{"requestId":"r1"}` || again.Headers[ReplayedHeader] != "true" {
		t.Fatalf("replay: %+v %v calls=%d", again, err, calls)
	}
	if _, err := ok(ctx, request("k1", `{"reason":"leak_concern"}`), alice); err != ErrReused {
		t.Fatalf("another body: %v", err)
	}
	// Bob's k1 is not Alice's k1.
	if _, err := ok(ctx, request("k1", `{"reason":"leak_concern"}`), bob); err != nil || calls != 2 {
		t.Fatalf("bob: %v", err)
	}
	// No key: runs every time.
	for i := 0; i < 2; i++ {
		_, _ = ok(ctx, request("", `{}`), alice)
	}
	if calls != 4 {
		t.Fatalf("calls without a key: %d", calls)
	}
	// A refusal a retry would meet again is replayed; a 429 is not.
	denied := g.Holder(answer(nil, apperr.New(apperr.PolicyDenied, "quota")))
	_, _ = denied(ctx, request("k2", `{}`), alice)
	_, err = denied(ctx, request("k2", `{}`), alice)
	if apperr.CodeOf(err) != apperr.PolicyDenied || calls != 5 {
		t.Fatalf("replayed refusal: %v calls=%d", err, calls)
	}
	busy := g.Holder(answer(nil, apperr.New(apperr.RateLimited, "slow down")))
	_, _ = busy(ctx, request("k3", `{}`), alice)
	_, _ = busy(ctx, request("k3", `{}`), alice)
	if calls != 7 {
		t.Fatalf("a 429 was replayed: calls=%d", calls)
	}
	// After the record's day, the key runs anew.
	clock = clock.Add(25 * time.Hour)
	if _, err := ok(ctx, request("k1", `{"reason":"other"}`), alice); err != nil || calls != 8 {
		t.Fatalf("after expiry: %v calls=%d", err, calls)
	}
	if _, err := ok(ctx, request(strings.Repeat("x", 200), `{}`), alice); apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("long key: %v", err)
	}
}
