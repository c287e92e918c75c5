package keyring

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestRingRoundTripAndRefusals(t *testing.T) {
	r := Ring{Active: "d2", Keys: map[string][]byte{"d1": bytes.Repeat([]byte{1}, 32), "d2": bytes.Repeat([]byte{2}, 32)}}
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil || got.Active != "d2" || !bytes.Equal(got.Keys["d1"], r.Keys["d1"]) || len(got.Keys) != 2 {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for name, raw := range map[string]string{
		"not JSON":         "{",
		"no keys":          `{"active":"a","keys":{}}`,
		"short key":        `{"active":"a","keys":{"a":"AAAA"}}`,
		"active not there": `{"active":"b","keys":{"a":"` + strings.Repeat("A", 43) + `="}}`,
		"dot in id":        `{"active":"a.b","keys":{"a.b":"` + strings.Repeat("A", 43) + `="}}`,
	} {
		if _, err := Parse([]byte(raw)); err == nil {
			t.Errorf("%s: parsed", name)
		} else if strings.Contains(err.Error(), "AAAA") {
			t.Errorf("%s: the error quotes key material: %v", name, err)
		}
	}
}

// Load names every ring it could not get; Ring refuses a kind not given;
// Refresh fetches at most once every MinRefresh; Unused lists what the
// code never asked for.
func TestKeys(t *testing.T) {
	src := NewStatic(map[Kind]Ring{Data: NewRing("d1")})
	if _, err := Load(context.Background(), src, []Kind{Data, Session, HMAC}, nil); err == nil ||
		!strings.Contains(err.Error(), "the session keys (static ring session)") || !strings.Contains(err.Error(), "the hmac keys") {
		t.Fatalf("missing rings: %v", err)
	}
	now := time.Unix(1000, 0)
	k, err := Load(context.Background(), src, []Kind{Data, Session}[:1], func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Ring(Session); err == nil || !strings.Contains(err.Error(), "not given the session keys (PCCC_KEYS lists data)") {
		t.Errorf("a kind not given: %v", err)
	}
	if u := k.Unused(); len(u) != 1 || u[0] != Data {
		t.Errorf("unused before use = %v", u)
	}
	if _, err := k.Ring(Data); err != nil || len(k.Unused()) != 0 {
		t.Errorf("after use: %v, unused %v", err, k.Unused())
	}
	src.Set(Data, Ring{Active: "d2", Keys: map[string][]byte{"d1": NewKey(), "d2": NewKey()}})
	if r, fresh, _ := k.Refresh(context.Background(), Data); fresh || r.Active != "d1" {
		t.Errorf("refreshed within MinRefresh: %v %s", fresh, r.Active)
	}
	now = now.Add(MinRefresh)
	if r, fresh, err := k.Refresh(context.Background(), Data); !fresh || r.Active != "d2" || err != nil {
		t.Errorf("after MinRefresh: %v %s %v", fresh, r.Active, err)
	}
	if r, _ := k.Ring(Data); r.Active != "d2" {
		t.Errorf("the refreshed ring is not the cached one: %s", r.Active)
	}
	// The sealer built from the keys opens a value under a key added since.
	seal, err := k.Sealer()
	if err != nil {
		t.Fatal(err)
	}
	src.Set(Data, Ring{Active: "d3", Keys: map[string][]byte{"d3": NewKey()}})
	other, _ := Load(context.Background(), src, []Kind{Data}, nil)
	otherSeal, _ := other.Sealer()
	sealed, _ := otherSeal.Seal("place", []byte("x"))
	if _, err := seal.Open("place", sealed); err == nil {
		t.Error("opened under an unknown key within MinRefresh")
	}
	now = now.Add(MinRefresh)
	if pt, err := seal.Open("place", sealed); err != nil || string(pt) != "x" {
		t.Errorf("after MinRefresh the new key d3 did not open: %q %v", pt, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"active":"a","keys":{"a":"` + strings.Repeat("A", 43) + `="}}`))
	f.Add([]byte(`{"active":"","keys":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			return
		}
		if len(r.Keys[r.Active]) != KeyBytes {
			t.Fatalf("parsed a ring whose active key is not %d bytes", KeyBytes)
		}
		again, err := r.Marshal()
		if err != nil {
			t.Fatalf("a parsed ring does not marshal: %v", err)
		}
		if _, err := Parse(again); err != nil {
			t.Fatalf("a marshalled ring does not parse: %v", err)
		}
	})
}

func FuzzParseKinds(f *testing.F) {
	f.Add("hmac, data,session,origin")
	f.Fuzz(func(t *testing.T, s string) {
		kinds, err := ParseKinds(s)
		if err != nil {
			return
		}
		seen := map[Kind]bool{}
		for _, k := range kinds {
			if seen[k] || (k != HMAC && k != Data && k != Session && k != Origin) {
				t.Fatalf("%q gave %v", s, kinds)
			}
			seen[k] = true
		}
	})
}
