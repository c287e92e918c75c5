package declaration

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pccc/pccc/shared/apperr"
)

func ptr[T any](v T) *T { return &v }

// valid is goods every validator accepts; cases vary it.
func valid() Input {
	return Input{
		Waybill: ptr("cj-1234567890"), Value: json.RawMessage(`"49.90"`), Currency: ptr("USD"),
		Items: &[]ItemInput{{Description: ptr("  running   shoes "), Quantity: ptr(1)}, {Description: ptr("양말"), Quantity: ptr(3)}},
	}
}

func TestParseGoodsNormalises(t *testing.T) {
	g, err := ParseGoods(valid())
	if err != nil {
		t.Fatal(err)
	}
	want := Goods{Waybill: "CJ-1234567890", Value: "49.9", Currency: "USD",
		Items: []Item{{Description: "running shoes", Quantity: 1}, {Description: "양말", Quantity: 3}}}
	if !reflect.DeepEqual(g, want) {
		t.Fatalf("ParseGoods = %+v, want %+v", g, want)
	}
}

func TestParseValue(t *testing.T) {
	tests := []struct {
		raw  string
		want string // "" for refused
	}{
		{`49.90`, "49.9"}, {`"49.90"`, "49.9"}, {`1`, "1"}, {`"0010"`, "10"}, {`0.0001`, "0.0001"},
		{`"999999999999.9999"`, "999999999999.9999"}, {`"100.000"`, "100"},
		{`0`, ""}, {`"0.0000"`, ""}, {`-1`, ""}, {`"1e3"`, ""}, {`1e3`, ""}, {`"1.23456"`, ""},
		{`"1234567890123"`, ""}, {`" 1"`, ""}, {`".5"`, ""}, {`"5."`, ""}, {`true`, ""}, {`{}`, ""}, {`"+1"`, ""}, {`"1,5"`, ""},
		{`"١٢"`, ""}, // Arabic-Indic digits
	}
	for _, tt := range tests {
		got, ok := ParseValue(json.RawMessage(tt.raw))
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("ParseValue(%s) = %q, %v; want %q", tt.raw, got, ok, tt.want)
		}
	}
}

func fieldsOf(err error) []string {
	var out []string
	for k := range apperr.As(err).Fields {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestParseGoodsNamesEveryBadField(t *testing.T) {
	tests := []struct {
		name string
		set  func(*Input)
		want []string
	}{
		{"everything missing", func(in *Input) { *in = Input{} }, []string{"currency", "items", "value", "waybill"}},
		{"value null", func(in *Input) { in.Value = json.RawMessage(`null`) }, []string{"value"}},
		{"waybill short", func(in *Input) { in.Waybill = ptr("AB12") }, []string{"waybill"}},
		{"waybill too long", func(in *Input) { in.Waybill = ptr(strings.Repeat("A", 41)) }, []string{"waybill"}},
		{"waybill with a space", func(in *Input) { in.Waybill = ptr("AB 123456") }, []string{"waybill"}},
		{"waybill starting with a hyphen", func(in *Input) { in.Waybill = ptr("-AB123456") }, []string{"waybill"}},
		{"waybill non-ASCII that upper-cases to ASCII", func(in *Input) { in.Waybill = ptr("ı23456") }, []string{"waybill"}},
		{"no items", func(in *Input) { in.Items = &[]ItemInput{} }, []string{"items"}},
		{"too many items", func(in *Input) {
			many := make([]ItemInput, MaxItems+1)
			for i := range many {
				many[i] = ItemInput{Description: ptr("x"), Quantity: ptr(1)}
			}
			in.Items = &many
		}, []string{"items"}},
		{"item fields", func(in *Input) {
			in.Items = &[]ItemInput{{Description: ptr("ok"), Quantity: ptr(1)}, {}, {Description: ptr("  "), Quantity: ptr(0)},
				{Description: ptr("a\x00b"), Quantity: ptr(MaxQuantity + 1)}, {Description: ptr(strings.Repeat("가", MaxDescription+1)), Quantity: ptr(-1)}}
		}, []string{"items[1].description", "items[1].quantity", "items[2].description", "items[2].quantity",
			"items[3].description", "items[3].quantity", "items[4].description", "items[4].quantity"}},
		{"currency lower case", func(in *Input) { in.Currency = ptr("usd") }, []string{"currency"}},
		{"currency 4 letters", func(in *Input) { in.Currency = ptr("USDT") }, []string{"currency"}},
		{"value zero", func(in *Input) { in.Value = json.RawMessage(`0`) }, []string{"value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.set(&in)
			_, err := ParseGoods(in)
			if apperr.As(err).Code != apperr.Invalid {
				t.Fatalf("err = %v, want INVALID_ARGUMENT", err)
			}
			if got := fieldsOf(err); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fields %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzParseGoods feeds arbitrary JSON to the goods' parser as the API
// decodes it: whatever it is, the parser either refuses it with a 400
// naming fields, or returns goods within every bound, whose value parses
// back to itself.
func FuzzParseGoods(f *testing.F) {
	for _, seed := range []string{
		`{"waybill":"CJ1234567890","items":[{"description":"shoes","quantity":1}],"value":"49.90","currency":"USD"}`,
		`{"waybill":" cj-123456 ","items":[{"description":"양말","quantity":100000}],"value":49.9,"currency":"KRW"}`,
		`{"waybill":"x","items":[],"value":"-1","currency":"usd"}`,
		`{"items":[{"description":"","quantity":0},{}],"value":"1e3"}`,
		`{"waybill":"ı23456","value":"999999999999.9999","currency":"EUR","items":[{"description":"a\u0000b","quantity":2}]}`,
		`{"value":null,"items":null}`,
		`{}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var in struct {
			Waybill  *string         `json:"waybill"`
			Items    *[]ItemInput    `json:"items"`
			Value    json.RawMessage `json:"value"`
			Currency *string         `json:"currency"`
		}
		if json.Unmarshal([]byte(body), &in) != nil {
			return
		}
		g, err := ParseGoods(Input{Waybill: in.Waybill, Items: in.Items, Value: in.Value, Currency: in.Currency})
		if err != nil {
			e := apperr.As(err)
			if e.Code != apperr.Invalid || len(e.Fields) == 0 {
				t.Fatalf("refusal %v is not a 400 naming fields", err)
			}
			return
		}
		if len(g.Waybill) < MinWaybill || len(g.Waybill) > MaxWaybill || g.Waybill != strings.ToUpper(g.Waybill) {
			t.Fatalf("waybill %q", g.Waybill)
		}
		if len(g.Items) < 1 || len(g.Items) > MaxItems {
			t.Fatalf("%d items", len(g.Items))
		}
		for _, it := range g.Items {
			n := utf8.RuneCountInString(it.Description)
			if n < 1 || n > MaxDescription || it.Quantity < 1 || it.Quantity > MaxQuantity || strings.TrimSpace(it.Description) != it.Description {
				t.Fatalf("item %+v", it)
			}
		}
		if v, ok := ParseValue(json.RawMessage(`"` + g.Value + `"`)); !ok || v != g.Value {
			t.Fatalf("value %q does not parse back (%q, %v)", g.Value, v, ok)
		}
		if !currencyShape.MatchString(g.Currency) {
			t.Fatalf("currency %q", g.Currency)
		}
	})
}
