package samtemplate

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// shortTags maps CloudFormation's YAML short forms to the long key they stand
// for. !Ref and !Condition are not "Fn::" functions; !GetAtt needs its
// "A.B" string split (handled in convertTagged).
var shortTags = map[string]string{
	"!Ref":          "Ref",
	"!Condition":    "Condition",
	"!GetAtt":       "Fn::GetAtt",
	"!Sub":          "Fn::Sub",
	"!Join":         "Fn::Join",
	"!Select":       "Fn::Select",
	"!Split":        "Fn::Split",
	"!If":           "Fn::If",
	"!Equals":       "Fn::Equals",
	"!Not":          "Fn::Not",
	"!And":          "Fn::And",
	"!Or":           "Fn::Or",
	"!FindInMap":    "Fn::FindInMap",
	"!Base64":       "Fn::Base64",
	"!Cidr":         "Fn::Cidr",
	"!GetAZs":       "Fn::GetAZs",
	"!ImportValue":  "Fn::ImportValue",
	"!Transform":    "Fn::Transform",
	"!ToJsonString": "Fn::ToJsonString",
	"!Length":       "Fn::Length",
}

// decode turns YAML into the generic JSON-like tree CloudFormation itself
// works on: map[string]any, []any, string, int, float64, bool, nil. Short
// tags become their long map forms, so the rest of the package sees one
// shape only, whichever way the template was written.
func decode(b []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 {
		return nil, fmt.Errorf("empty template")
	}
	return convert(&doc)
}

func convert(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return convert(n.Content[0])
	case yaml.AliasNode:
		return convert(n.Alias)
	}
	if long, ok := shortTags[n.Tag]; ok {
		return convertTagged(n, long)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				return nil, fmt.Errorf("line %d: YAML merge keys are not supported (CloudFormation rejects them too)", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				// CloudFormation refuses duplicate keys; yaml.v3 would
				// silently keep the last one.
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			cv, err := convert(v)
			if err != nil {
				return nil, err
			}
			m[k.Value] = cv
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			cv, err := convert(c)
			if err != nil {
				return nil, err
			}
			l = append(l, cv)
		}
		return l, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

// convertTagged handles a node carrying a short tag: the tagged value
// (scalar, list or map) becomes the value of the long key.
func convertTagged(n *yaml.Node, long string) (any, error) {
	var inner any
	switch n.Kind {
	case yaml.ScalarNode:
		// The value of a tagged scalar is always its text: "!Ref 5" names
		// "5", it is not the number five.
		inner = n.Value
	default:
		plain := *n
		plain.Tag = ""
		v, err := convert(&plain)
		if err != nil {
			return nil, err
		}
		inner = v
	}
	if long == "Fn::GetAtt" {
		if s, ok := inner.(string); ok {
			res, attr, found := strings.Cut(s, ".")
			if !found || res == "" || attr == "" {
				return nil, fmt.Errorf("line %d: !GetAtt %q: want Resource.Attribute", n.Line, s)
			}
			inner = []any{res, attr}
		}
	}
	return map[string]any{long: inner}, nil
}
