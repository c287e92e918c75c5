package samtemplate

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Value is a property value as the template states it: a literal, or an
// intrinsic function (Ref, Fn::GetAtt, Fn::Sub, ...) still to be resolved.
// Whoever deploys decides what the references mean (CloudFormation in AWS,
// the local runner at home), so Value keeps them and Resolve asks.
type Value struct{ raw any }

// NewValue wraps a generic tree (as json.Unmarshal would produce) as a
// Value; handy in tests.
func NewValue(raw any) Value { return Value{raw: raw} }

// Raw returns the generic form: long "Fn::" maps, never short tags.
func (v Value) Raw() any { return v.raw }

// IsZero reports whether the template gave no value.
func (v Value) IsZero() bool { return v.raw == nil }

// Literal returns a scalar value as text, and false when the value is an
// intrinsic function, a list or a map.
func (v Value) Literal() (string, bool) { return scalarString(v.raw) }

// Ref is one thing a Value refers to: Ref (Attribute empty), Fn::GetAtt
// (Attribute set), or, with Condition true, a condition that Fn::If asks
// about (the resolver answers "true" or "false").
type Ref struct {
	Name      string
	Attribute string
	Condition bool
}

func (r Ref) String() string {
	switch {
	case r.Condition:
		return "Condition " + r.Name
	case r.Attribute != "":
		return r.Name + "." + r.Attribute
	default:
		return r.Name
	}
}

// Resolver answers what a reference stands for.
type Resolver func(Ref) (string, error)

// RefTarget returns the reference of a value that is exactly a Ref or an
// Fn::GetAtt, such as the Queue of an SQS event (!GetAtt Queue.Arn).
func (v Value) RefTarget() (Ref, bool) {
	m, ok := v.raw.(map[string]any)
	if !ok || len(m) != 1 {
		return Ref{}, false
	}
	if s, ok := m["Ref"].(string); ok {
		return Ref{Name: s}, true
	}
	if l, ok := m["Fn::GetAtt"].([]any); ok && len(l) == 2 {
		res, ok1 := l[0].(string)
		attr, ok2 := l[1].(string)
		if ok1 && ok2 {
			return Ref{Name: res, Attribute: attr}, true
		}
	}
	return Ref{}, false
}

// Resolve evaluates the value to a string. It understands Ref, Fn::GetAtt,
// Fn::Sub (both forms, with ${Name}, ${Res.Attr} and the ${!Literal}
// escape), Fn::Join, Fn::Select, Fn::Split (inside Select/Join), Fn::If,
// Fn::Equals, Fn::Not, Fn::And, Fn::Or and Fn::Base64; references go to r.
// Anything else is an error naming the function.
func (v Value) Resolve(r Resolver) (string, error) {
	out, err := resolve(v.raw, r)
	if err != nil {
		return "", err
	}
	switch t := out.(type) {
	case []any:
		// A list where a string is wanted: what a CommaDelimitedList
		// parameter is when referenced, so join it the same way.
		parts := make([]string, len(t))
		for i, e := range t {
			s, ok := scalarString(e)
			if !ok {
				return "", fmt.Errorf("list element %d is not a scalar", i)
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case map[string]any:
		b, err := json.Marshal(t)
		return string(b), err
	}
	s, _ := scalarString(out)
	return s, nil
}

// ResolveList evaluates a value that should be a list of strings: a YAML
// list (elements resolved one by one), or anything resolving to a
// comma-separated string, such as !Ref of a CommaDelimitedList parameter.
func (v Value) ResolveList(r Resolver) ([]string, error) {
	if l, ok := v.raw.([]any); ok {
		out := make([]string, 0, len(l))
		for _, e := range l {
			s, err := Value{e}.Resolve(r)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	if v.raw == nil {
		return nil, nil
	}
	s, err := v.Resolve(r)
	if err != nil {
		return nil, err
	}
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts, nil
}

// resolve evaluates intrinsic functions inside a generic tree.
func resolve(raw any, r Resolver) (any, error) {
	switch t := raw.(type) {
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			v, err := resolve(e, r)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case map[string]any:
		if len(t) == 1 {
			for k, arg := range t {
				if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
					return resolveFn(k, arg, r)
				}
			}
		}
		out := make(map[string]any, len(t))
		for k, e := range t {
			v, err := resolve(e, r)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	}
	return raw, nil
}

func resolveFn(fn string, arg any, r Resolver) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref: want a name, got %T", arg)
		}
		return r(Ref{Name: name})
	case "Condition":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Condition: want a name, got %T", arg)
		}
		return condition(name, r)
	case "Fn::GetAtt":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt: want [Resource, Attribute]")
		}
		res, ok1 := l[0].(string)
		attr, err := resolveString(l[1], r)
		if !ok1 || err != nil {
			return nil, fmt.Errorf("Fn::GetAtt: want [Resource, Attribute]")
		}
		return r(Ref{Name: res, Attribute: attr})
	case "Fn::Sub":
		return resolveSub(arg, r)
	case "Fn::Join":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Join: want [delimiter, [values]]")
		}
		delim, ok := l[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Join: the delimiter must be a string")
		}
		items, err := resolve(l[1], r)
		if err != nil {
			return nil, err
		}
		list, err := asStringList(items)
		if err != nil {
			return nil, fmt.Errorf("Fn::Join: %w", err)
		}
		return strings.Join(list, delim), nil
	case "Fn::Select":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Select: want [index, [values]]")
		}
		idxText, err := resolveString(l[0], r)
		if err != nil {
			return nil, err
		}
		idx, err := strconv.Atoi(idxText)
		if err != nil {
			return nil, fmt.Errorf("Fn::Select: index %q is not a number", idxText)
		}
		items, err := resolve(l[1], r)
		if err != nil {
			return nil, err
		}
		list, err := asStringList(items)
		if err != nil {
			return nil, fmt.Errorf("Fn::Select: %w", err)
		}
		if idx < 0 || idx >= len(list) {
			return nil, fmt.Errorf("Fn::Select: index %d out of range (%d values)", idx, len(list))
		}
		return list[idx], nil
	case "Fn::Split":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Split: want [delimiter, string]")
		}
		delim, ok := l[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::Split: the delimiter must be a string")
		}
		s, err := resolveString(l[1], r)
		if err != nil {
			return nil, err
		}
		parts := strings.Split(s, delim)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "Fn::If":
		l, ok := arg.([]any)
		if !ok || len(l) != 3 {
			return nil, fmt.Errorf("Fn::If: want [condition, then, else]")
		}
		name, ok := l[0].(string)
		if !ok {
			return nil, fmt.Errorf("Fn::If: the condition must be a name")
		}
		on, err := condition(name, r)
		if err != nil {
			return nil, err
		}
		if on {
			return resolve(l[1], r)
		}
		return resolve(l[2], r)
	case "Fn::Equals":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return nil, fmt.Errorf("Fn::Equals: want [a, b]")
		}
		a, err := resolveString(l[0], r)
		if err != nil {
			return nil, err
		}
		b, err := resolveString(l[1], r)
		if err != nil {
			return nil, err
		}
		return a == b, nil
	case "Fn::Not", "Fn::And", "Fn::Or":
		l, ok := arg.([]any)
		if !ok || len(l) == 0 || (fn == "Fn::Not" && len(l) != 1) {
			return nil, fmt.Errorf("%s: want a list of conditions", fn)
		}
		vals := make([]bool, len(l))
		for i, e := range l {
			v, err := resolve(e, r)
			if err != nil {
				return nil, err
			}
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("%s: operand %d is not a condition", fn, i)
			}
			vals[i] = b
		}
		switch fn {
		case "Fn::Not":
			return !vals[0], nil
		case "Fn::And":
			for _, b := range vals {
				if !b {
					return false, nil
				}
			}
			return true, nil
		default:
			for _, b := range vals {
				if b {
					return true, nil
				}
			}
			return false, nil
		}
	case "Fn::Base64":
		// Resolved for what it contains; the encoding is CloudFormation's
		// business (user data for EC2), not something pccc consumes.
		return resolve(arg, r)
	}
	return nil, fmt.Errorf("%s is not supported", fn)
}

// condition asks the resolver about a named condition.
func condition(name string, r Resolver) (bool, error) {
	s, err := r(Ref{Name: name, Condition: true})
	if err != nil {
		return false, err
	}
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("condition %s resolved to %q, want true or false", name, s)
}

func resolveString(raw any, r Resolver) (string, error) {
	v, err := resolve(raw, r)
	if err != nil {
		return "", err
	}
	s, ok := scalarString(v)
	if !ok {
		return "", fmt.Errorf("want a string, got %T", v)
	}
	return s, nil
}

// asStringList accepts a list of scalars or a comma-separated string (a
// CommaDelimitedList parameter as the resolver returns it).
func asStringList(v any) ([]string, error) {
	switch t := v.(type) {
	case []any:
		out := make([]string, len(t))
		for i, e := range t {
			s, ok := scalarString(e)
			if !ok {
				return nil, fmt.Errorf("element %d is not a scalar", i)
			}
			out[i] = s
		}
		return out, nil
	case string:
		return strings.Split(t, ","), nil
	}
	return nil, fmt.Errorf("want a list, got %T", v)
}

// resolveSub evaluates Fn::Sub: "text ${Name} ${Res.Attr} ${!Literal}" or
// [text, {Var: value}]. Variables given in the map win over references of
// the same name, as in CloudFormation.
func resolveSub(arg any, r Resolver) (any, error) {
	var text string
	vars := map[string]string{}
	switch t := arg.(type) {
	case string:
		text = t
	case []any:
		if len(t) != 2 {
			return nil, fmt.Errorf("Fn::Sub: want text or [text, {variables}]")
		}
		s, ok := t[0].(string)
		m, ok2 := t[1].(map[string]any)
		if !ok || !ok2 {
			return nil, fmt.Errorf("Fn::Sub: want [text, {variables}]")
		}
		text = s
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, err := resolveString(m[k], r)
			if err != nil {
				return nil, fmt.Errorf("Fn::Sub variable %s: %w", k, err)
			}
			vars[k] = v
		}
	default:
		return nil, fmt.Errorf("Fn::Sub: want text or [text, {variables}]")
	}
	var b strings.Builder
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			b.WriteString(text)
			return b.String(), nil
		}
		b.WriteString(text[:i])
		end := strings.Index(text[i:], "}")
		if end < 0 {
			return nil, fmt.Errorf("Fn::Sub: unclosed ${ in %q", text)
		}
		name := text[i+2 : i+end]
		text = text[i+end+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		if v, ok := vars[name]; ok {
			b.WriteString(v)
			continue
		}
		ref := Ref{Name: name}
		if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			ref = Ref{Name: res, Attribute: attr}
		}
		v, err := r(ref)
		if err != nil {
			return nil, err
		}
		b.WriteString(v)
	}
}

func scalarString(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case nil:
		return "", true
	}
	return "", false
}
