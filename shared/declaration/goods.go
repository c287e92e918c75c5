package declaration

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pccc/pccc/shared/apperr"
)

// Bounds of a declaration's goods. Modest on purpose: an express
// shipment for a person (목록통관 and simplified declarations), not a
// container's manifest.
const (
	MaxItems          = 50
	MaxDescription    = 200 // characters
	MaxQuantity       = 100_000
	MinWaybill        = 6
	MaxWaybill        = 40
	MaxValueDigits    = 12 // before the point
	MaxValueFraction  = 4  // after it
	msgRequired       = "is required"
	msgWaybill        = "must be 6-40 letters, digits or hyphens, starting with a letter or digit"
	msgItems          = "must be a list of 1-50 items"
	msgDescription    = "must be 1-200 characters, no control characters"
	msgQuantity       = "must be a whole number from 1 to 100000"
	msgValue          = "must be a positive decimal number, at most 12 digits before the point and 4 after it"
	msgCurrency       = "must be an ISO 4217 code: 3 capital letters, such as USD or KRW"
	fieldItemsPattern = "items[%d].%s"
)

// Goods is what a declaration declares, normalised.
type Goods struct {
	Waybill  string // capitals, digits and hyphens
	Items    []Item
	Value    string // the declared total, a canonical decimal ("123.5", never "0123.50")
	Currency string // ISO 4217 alphabetic code
}

// Item is one line of the goods.
type Item struct {
	Description string `json:"description"`
	Quantity    int    `json:"quantity"`
}

// ItemInput is one item as sent; nil means missing.
type ItemInput struct {
	Description *string `json:"description"`
	Quantity    *int    `json:"quantity"`
}

// Input is the goods' fields as sent; nil means missing. Value is raw
// JSON: a number (49.99) or a string ("49.99"), parsed here so that a bad
// one is a 400 naming "value" and floats never round it.
type Input struct {
	Waybill  *string
	Items    *[]ItemInput
	Value    json.RawMessage
	Currency *string
}

var (
	waybillShape  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)
	currencyShape = regexp.MustCompile(`^[A-Z]{3}$`)
	decimalShape  = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,4})?$`)
)

// ParseGoods checks and normalises the goods. Every bad field is named in
// one 400 (items by index, "items[2].quantity"); no message repeats the
// input.
func ParseGoods(in Input) (Goods, error) {
	bad := map[string]string{}
	g := Fields(in, bad)
	if len(bad) > 0 {
		return Goods{}, apperr.InvalidFields(bad)
	}
	return g, nil
}

// Fields adds the goods' problems to bad and returns the goods; for a
// caller that validates other fields in the same 400.
func Fields(in Input, bad map[string]string) Goods {
	var g Goods
	switch {
	case in.Waybill == nil:
		bad["waybill"] = msgRequired
	default:
		// ASCII only, checked before upper-casing (strings.ToUpper maps
		// some non-ASCII letters to ASCII ones).
		w := strings.Trim(*in.Waybill, " \t")
		if len(w) < MinWaybill || len(w) > MaxWaybill || !waybillShape.MatchString(w) {
			bad["waybill"] = msgWaybill
		} else {
			g.Waybill = strings.ToUpper(w)
		}
	}
	switch {
	case in.Items == nil:
		bad["items"] = msgRequired
	case len(*in.Items) == 0 || len(*in.Items) > MaxItems:
		bad["items"] = msgItems
	default:
		for i, it := range *in.Items {
			var item Item
			if it.Description == nil {
				bad[fmt.Sprintf(fieldItemsPattern, i, "description")] = msgRequired
			} else if d, ok := description(*it.Description); ok {
				item.Description = d
			} else {
				bad[fmt.Sprintf(fieldItemsPattern, i, "description")] = msgDescription
			}
			if it.Quantity == nil {
				bad[fmt.Sprintf(fieldItemsPattern, i, "quantity")] = msgRequired
			} else if q := *it.Quantity; q < 1 || q > MaxQuantity {
				bad[fmt.Sprintf(fieldItemsPattern, i, "quantity")] = msgQuantity
			} else {
				item.Quantity = q
			}
			g.Items = append(g.Items, item)
		}
	}
	if len(in.Value) == 0 || string(in.Value) == "null" {
		bad["value"] = msgRequired
	} else if v, ok := ParseValue(in.Value); ok {
		g.Value = v
	} else {
		bad["value"] = msgValue
	}
	switch {
	case in.Currency == nil:
		bad["currency"] = msgRequired
	case !currencyShape.MatchString(*in.Currency):
		bad["currency"] = msgCurrency
	default:
		g.Currency = *in.Currency
	}
	return g
}

// description trims and collapses white space and refuses control
// characters and invalid UTF-8.
func description(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return "", false
		}
	}
	s = strings.Join(strings.Fields(s), " ")
	n := utf8.RuneCountInString(s)
	return s, n >= 1 && n <= MaxDescription
}

// ParseValue reads a declared value from raw JSON, a number or a string
// holding one: plain decimal notation only (no sign, exponent or spaces),
// at most 12 digits before the point and 4 after, above zero. It returns
// the canonical form: no leading zeros, no trailing fractional zeros.
func ParseValue(raw json.RawMessage) (string, bool) {
	s := string(raw)
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false
		}
	}
	if !decimalShape.MatchString(s) {
		return "", false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() <= 0 {
		return "", false
	}
	// The shape bounds the digits, so the exact fraction prints back in
	// full at MaxValueFraction places.
	out := strings.TrimRight(r.FloatString(MaxValueFraction), "0")
	out = strings.TrimSuffix(out, ".")
	return out, true
}
