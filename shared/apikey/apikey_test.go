package apikey

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

// keys is a fake Reader: a map of records and an optional failure.
type keys struct {
	recs  map[string]Record
	err   error
	reads int
}

func (k *keys) Key(_ context.Context, id string) (Record, error) {
	k.reads++
	if k.err != nil {
		return Record{}, k.err
	}
	r, ok := k.recs[id]
	if !ok {
		return Record{}, ErrNoKey
	}
	return r, nil
}

var _ Reader = (*keys)(nil)

var now = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestNew(t *testing.T) {
	key, rec, err := New("  ACME   Customs ", 10, now, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := Parse(key)
	if !ok || id != rec.ID || rec.Owner != "ACME Customs" || rec.RatePerMinute != 10 || !rec.CreatedAt.Equal(now) || rec.Revoked {
		t.Fatalf("key %q, record %+v", key, rec)
	}
	if rec.Hash != Hash(id, secret) || strings.Contains(rec.Hash, secret) || len(rec.Hash) != 64 {
		t.Fatalf("hash %q", rec.Hash)
	}
	// 256 bits of secret: no two keys alike.
	seen := map[string]bool{}
	for range 1000 {
		k, r, err := New("x", 1, now, nil)
		if err != nil {
			t.Fatal(err)
		}
		if seen[k] || seen[r.ID] {
			t.Fatal("a key or id repeated")
		}
		seen[k], seen[r.ID] = true, true
	}
	// The same random bytes make the same key: nothing but the reader
	// goes into it.
	k1, _, _ := New("x", 1, now, bytes.NewReader(bytes.Repeat([]byte{7}, 40)))
	k2, _, _ := New("x", 1, now, bytes.NewReader(bytes.Repeat([]byte{7}, 40)))
	if k1 != k2 {
		t.Fatal("the key is not drawn from the reader")
	}
	if _, _, err := New("x", 1, now, bytes.NewReader(make([]byte, 10))); err == nil {
		t.Fatal("a short random source gave a key")
	}
}

func TestNewRefuses(t *testing.T) {
	for _, tc := range []struct {
		owner string
		rate  int
	}{
		{"", 10}, {"   ", 10}, {strings.Repeat("a", 101), 10}, {"ACME\x01", 10},
		{"ACME", 0}, {"ACME", -1}, {"ACME", MaxRatePerMinute + 1},
	} {
		if _, _, err := New(tc.owner, tc.rate, now, nil); err == nil {
			t.Errorf("New(%q, %d) succeeded", tc.owner, tc.rate)
		}
	}
	if _, _, err := New(strings.Repeat("가", 100), MaxRatePerMinute, now, nil); err != nil {
		t.Errorf("100 characters, the highest rate: %v", err)
	}
}

func TestParse(t *testing.T) {
	key, rec, _ := New("x", 1, now, nil)
	_, secret, _ := Parse(key)
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{key, true},
		{"", false},
		{"pccc", false},
		{strings.Replace(key, "pccc.", "pccx.", 1), false},
		{"pccc.0123456789ABCDEF." + secret, false}, // upper-case id
		{key + "A", false},
		{key[:len(key)-1], false},
		{"pccc." + rec.ID + "." + secret[:42] + "=", false},
		{"pccc." + rec.ID + "." + secret[:42] + "+", false}, // not URL-safe base64
		{"pccc." + rec.ID + "x" + secret, false},
		{"pccc.0123456789abcdeg." + secret, false},
	} {
		id, s, ok := Parse(tc.key)
		if ok != tc.ok || (ok && (id != rec.ID || s != secret)) {
			t.Errorf("Parse(%q) = %q, %q, %v; want ok %v", tc.key, id, s, ok, tc.ok)
		}
	}
	if !ValidID(rec.ID) || ValidID("") || ValidID(rec.ID+"0") || ValidID("0123456789ABCDEF") {
		t.Error("ValidID")
	}
}

func TestAuthenticate(t *testing.T) {
	key, rec, _ := New("ACME", 10, now, nil)
	revokedKey, revoked, _ := New("Gone", 10, now, nil)
	revoked.Revoked, revoked.RevokedAt = true, now
	otherKey, _, _ := New("Never stored", 10, now, nil)
	store := &keys{recs: map[string]Record{rec.ID: rec, revoked.ID: revoked}}
	wrongSecret := "pccc." + rec.ID + "." + strings.Repeat("A", 43)
	// The other key's record under this key's id: a hash does not verify
	// under another id.
	_, otherRec, _ := New("x", 1, now, nil)
	swapped := otherRec
	swapped.ID = rec.ID

	for _, tc := range []struct {
		name, header string
		wantReads    int
		ok           bool
	}{
		{"valid", "ApiKey " + key, 1, true},
		{"scheme in any case, spaces around", "  apikey   " + key + " ", 1, true},
		{"no header", "", 0, false},
		{"scheme only", "ApiKey", 0, false},
		{"bearer", "Bearer " + key, 0, false},
		{"no scheme", key, 0, false},
		{"garbage", "ApiKey nope", 0, false},
		{"unknown id", "ApiKey " + otherKey, 1, false},
		{"wrong secret", "ApiKey " + wrongSecret, 1, false},
		{"revoked", "ApiKey " + revokedKey, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store.reads = 0
			got, err := Authenticate(context.Background(), store, tc.header)
			if store.reads != tc.wantReads {
				t.Errorf("%d reads, want %d", store.reads, tc.wantReads)
			}
			if tc.ok {
				if err != nil || got.ID != rec.ID || got.Owner != "ACME" {
					t.Fatalf("got %+v, %v", got, err)
				}
				return
			}
			e := apperr.As(err)
			if e.Code != apperr.Unauthenticated || e.Message != Message || got.ID != "" {
				t.Fatalf("got %+v, %v", got, err)
			}
			// The cause is for the logs: it may name the id, never the secret.
			if e.Err != nil && strings.Contains(e.Err.Error(), key[len(key)-43:]) {
				t.Fatalf("the cause holds the secret: %v", e.Err)
			}
		})
	}

	swappedStore := &keys{recs: map[string]Record{rec.ID: swapped}}
	if _, err := Authenticate(context.Background(), swappedStore, "ApiKey "+key); apperr.CodeOf(err) != apperr.Unauthenticated {
		t.Errorf("a hash copied from another key verified: %v", err)
	}
	// A failing store is our problem, not the caller's: not a 401.
	failing := &keys{err: errors.New("table down")}
	if _, err := Authenticate(context.Background(), failing, "ApiKey "+key); err == nil || apperr.CodeOf(err) == apperr.Unauthenticated {
		t.Errorf("store failure: %v", err)
	}
}
