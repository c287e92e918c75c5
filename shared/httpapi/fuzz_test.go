package httpapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/pccc/pccc/shared/apperr"
)

// FuzzDecodeJSON: whatever the body, DecodeJSON answers a 400 naming one
// field or decodes what encoding/json would, from a body that is valid
// JSON, holds no key twice in any object and names every field exactly.
// Run longer with: go test ./shared/httpapi -fuzz FuzzDecodeJSON
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","count":2}`, `{"name":"a","name":"b"}`, `{"NAME":"a"}`, `{"Name":"a"}`,
		`{"addr":{"zip":"1","Zip":"2"}}`, `{"addrs":[{"zip":"1"},{"zip":"1","zip":"2"}]}`,
		`{"labels":{"k":"1","K":"2"}}`, `{"raw":{"x":[1,{"y":2,"y":3}]}}`, `{"na\u006de":"a"}`,
		`{"tags":["a","b"],"count":1e3}`, `{"name":"a"} x`, `{"":1}`, `{"name":"\ud800"}`, `[`, ``,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var dst sample
		err := DecodeJSON(&Request{Event: event(body, nil)}, &dst)
		if err != nil {
			var e *apperr.Error
			if !errors.As(err, &e) || e.Code != apperr.Invalid || len(e.Fields) != 1 {
				t.Fatalf("body %q: want a 400 naming one field, got %v", body, err)
			}
			return
		}
		if !json.Valid([]byte(body)) {
			t.Fatalf("body %q is not JSON but was taken", body)
		}
		var std sample
		dec := json.NewDecoder(strings.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&std); err != nil || !reflect.DeepEqual(std, dst) {
			t.Fatalf("body %q: decoded %+v, encoding/json says %+v (%v)", body, dst, std, err)
		}
		var tree any
		if err := json.Unmarshal([]byte(body), &tree); err != nil {
			t.Fatal(err)
		}
		if got, want := keysInText(t, body), keysInTree(tree); got != want {
			t.Fatalf("body %q was taken with a key given twice (%d keys, %d distinct)", body, got, want)
		}
		exact := map[string]bool{"name": true, "count": true, "tags": true, "addr": true, "addrs": true, "labels": true, "raw": true}
		for k := range tree.(map[string]any) {
			if !exact[k] {
				t.Fatalf("body %q was taken with the field %q", body, k)
			}
		}
	})
}

// keysInText counts the keys of every object as the text gives them,
// repeats included.
func keysInText(t *testing.T, body string) int {
	t.Helper()
	var count func(dec *json.Decoder) int
	count = func(dec *json.Decoder) int {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				if _, err := dec.Token(); err != nil { // the key
					t.Fatal(err)
				}
				n += 1 + count(dec)
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				n += count(dec)
			}
			_, _ = dec.Token()
		}
		return n
	}
	return count(json.NewDecoder(strings.NewReader(body)))
}

// keysInTree counts the keys of every object in a decoded value.
func keysInTree(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := len(v)
		for _, x := range v {
			n += keysInTree(x)
		}
		return n
	case []any:
		n := 0
		for _, x := range v {
			n += keysInTree(x)
		}
		return n
	}
	return 0
}
