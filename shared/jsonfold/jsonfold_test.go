package jsonfold

import (
	"encoding/json"
	"strings"
	"testing"
)

// Equal matches a name to a field exactly when encoding/json does.
func FuzzEqual(f *testing.F) {
	for _, s := range []string{"routeKey", "ROUTEKEY", "routekey", "ſub", "\u212aey", "sub\x00", "", "su", "subs", "s\xffb", "İd", "ıd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		doc, err := json.Marshal(map[string]string{name: "x"})
		if err != nil {
			return
		}
		var probe struct {
			Sub      *string `json:"sub"`
			RouteKey *string `json:"routeKey"`
			Key      *string `json:"key"`
			ID       *string `json:"id"`
			AuthTime *string `json:"auth_time"`
		}
		if err := json.Unmarshal(doc, &probe); err != nil {
			t.Fatal(err)
		}
		// The name as encoding/json saw it: Marshal replaced invalid UTF-8.
		var seen map[string]string
		if err := json.Unmarshal(doc, &seen); err != nil {
			t.Fatal(err)
		}
		matched := map[string]*string{"sub": probe.Sub, "routeKey": probe.RouteKey, "key": probe.Key, "id": probe.ID, "auth_time": probe.AuthTime}
		for field, v := range matched {
			for k := range seen {
				if want, got := Equal(k, strings.ToUpper(field)), v != nil; want != got {
					t.Fatalf("Equal(%q, %q) = %v; encoding/json matched it: %v", k, field, want, got)
				}
			}
		}
	})
}

func TestIndex(t *testing.T) {
	f := NewFields("vid", "sub", "routeKey")
	for name, want := range map[string]int{"vid": 0, "Sub": 1, "ſub": 1, "routeKey": 2, "ROUTEKEY": 2, "route_key": -1, "": -1, "subx": -1, "ıd": -1} {
		if got := Index(f, name); got != want {
			t.Errorf("Index(%q) = %d, want %d", name, got, want)
		}
		if got := Index(f, []byte(name)); got != want {
			t.Errorf("Index([]byte(%q)) = %d, want %d", name, got, want)
		}
	}
}
