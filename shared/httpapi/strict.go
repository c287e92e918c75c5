package httpapi

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/pccc/pccc/shared/apperr"
)

// encoding/json takes the last of two equal keys and matches field names
// in any case, so a filter in front of us that reads the first key, or
// the exact name, would see another request than we do. checkKeys walks
// the body once before it is decoded, against the type it is decoded
// into, and refuses both: a key given twice in one object, and a key that
// is not exactly the name of a field (unknown, or the right name in the
// wrong case). Maps take any key, once; values typed any, json.RawMessage
// or with their own UnmarshalJSON are walked for duplicates only.

// maxDepth bounds the nesting the walk follows: no request of ours nests
// more than a few levels, and the walk recurses once a level.
const maxDepth = 32

// maxNamedKey is the longest key an answer names back; a longer one is
// named "body".
const maxNamedKey = 64

var errNotJSON = apperr.InvalidField("body", "is not valid JSON")

func checkKeys(body string, dst any) error {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	t := reflect.TypeOf(dst)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return walk(dec, t, "", 0)
}

// walk reads one value from dec; t is the Go type it lands in (nil:
// untyped) and path its name in answers ("" for the body).
func walk(dec *json.Decoder, t reflect.Type, path string, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return errNotJSON
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil // a scalar: its type is decode's to judge
	}
	if depth >= maxDepth {
		return apperr.InvalidField("body", "nests too deeply")
	}
	t = deref(t)
	if t != nil && custom(t) {
		t = nil
	}
	switch d {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := walk(dec, elem, path+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return err
			}
		}
	case '{':
		var fields map[string]reflect.Type
		var elem reflect.Type
		typed := false
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields, typed = fieldsOf(t), true
			case reflect.Map:
				elem = t.Elem()
			}
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return errNotJSON
			}
			key, ok := kt.(string)
			if !ok {
				return errNotJSON
			}
			name := join(path, key)
			if seen[key] {
				return apperr.InvalidField(nameable(name, key), "is given more than once")
			}
			seen[key] = true
			vt := elem
			if typed {
				ft, known := fields[key]
				if !known {
					return apperr.InvalidField(nameable(name, key), unknownProblem(fields, key))
				}
				vt = ft
			}
			if err := walk(dec, vt, name, depth+1); err != nil {
				return err
			}
		}
	}
	if _, err := dec.Token(); err != nil { // the closing delimiter
		return errNotJSON
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// nameable is the name an answer gives a bad key: its path, unless the key
// is empty, too long or not text, which the body as a whole stands for.
func nameable(name, key string) string {
	if key == "" || len(name) > maxNamedKey || !utf8.ValidString(key) || strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == utf8.RuneError }) {
		return "body"
	}
	return name
}

func unknownProblem(fields map[string]reflect.Type, key string) string {
	for name := range fields {
		if strings.EqualFold(name, key) {
			return "is not a known field (names are case-sensitive: " + strconv.Quote(name) + ")"
		}
	}
	return "is not a known field"
}

func deref(t reflect.Type) reflect.Type {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// custom reports a type that decodes itself: its keys are its own business
// (json.RawMessage is one), so only duplicates are refused below it.
func custom(t reflect.Type) bool {
	if t.Kind() == reflect.Interface {
		return true
	}
	p := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshaler) || p.Implements(jsonUnmarshaler) || p.Implements(textUnmarshaler)
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// fieldsOf is the exact JSON names of t's fields, as encoding/json names
// them (the tag's name, else the Go name; "-" skipped; fields of embedded
// structs without a tag promoted).
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]reflect.Type)
	}
	out := map[string]reflect.Type{}
	addFields(t, out, 0)
	fieldCache.Store(t, out)
	return out
}

func addFields(t reflect.Type, out map[string]reflect.Type, depth int) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			if et := deref(f.Type); et.Kind() == reflect.Struct && depth < maxDepth {
				addFields(et, out, depth+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, taken := out[name]; !taken {
			out[name] = f.Type
		}
	}
}
