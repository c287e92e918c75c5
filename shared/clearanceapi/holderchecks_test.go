package clearanceapi

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apikey"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/session"
)

type fakeLister map[string][]dynamo.Check

func (f fakeLister) ChecksOf(_ context.Context, hk string, limit int) ([]dynamo.Check, error) {
	if limit != HolderChecksLimit {
		return nil, nil
	}
	return f[hk], nil
}

type fakeKeyReader struct{ reads int }

func (f *fakeKeyReader) Key(_ context.Context, id string) (apikey.Record, error) {
	f.reads++
	if id == "gone" {
		return apikey.Record{}, apikey.ErrNoKey
	}
	return apikey.Record{ID: id, Owner: "Owner of " + id, Hash: "secret-hash"}, nil
}

// The holder sees their own checks with the owners of the keys that made
// them (each key read once); nothing else of the key; another holder's
// checks never.
func TestHolderChecks(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.FixedZone("KST", 9*3600))
	checks := fakeLister{"hk": {
		{ID: "c3", KeyID: "k1", Code: "P247732688745", HolderKey: "hk", Result: "mismatch", At: at.Add(2 * time.Minute)},
		{ID: "c2", KeyID: "k1", Code: "P247732688745", HolderKey: "hk", Result: "match", At: at.Add(time.Minute)},
		{ID: "c1", KeyID: "gone", Code: "P100000000005", HolderKey: "hk", Result: "mismatch", At: at},
		{ID: "cx", KeyID: "k2", Code: "P100000000013", HolderKey: "other", Result: "match", At: at},
	}}
	keys := &fakeKeyReader{}
	ep := HolderChecks(checks, keys)
	resp, err := ep(context.Background(), &httpapi.Request{}, session.Claims{HolderKey: "hk"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(resp.Body)
	want := `{"checks":[` +
		`{"checkId":"c3","checkedAt":"2026-12-01T00:02:00Z","code":"P247732688745","result":"mismatch","checkedBy":"Owner of k1"},` +
		`{"checkId":"c2","checkedAt":"2026-12-01T00:01:00Z","code":"P247732688745","result":"match","checkedBy":"Owner of k1"},` +
		`{"checkId":"c1","checkedAt":"2026-12-01T00:00:00Z","code":"P100000000005","result":"mismatch","checkedBy":""}]}`
	if resp.Status != 200 || string(b) != want {
		t.Fatalf("%d %s", resp.Status, b)
	}
	if keys.reads != 2 {
		t.Fatalf("%d key reads for 2 keys", keys.reads)
	}
	resp, _ = ep(context.Background(), &httpapi.Request{}, session.Claims{HolderKey: "nobody"})
	if b, _ := json.Marshal(resp.Body); string(b) != `{"checks":[]}` {
		t.Fatalf("no checks: %s", b)
	}
}
