package leastpriv

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/pccc/pccc/infra/samtemplate"
)

// Grants are what a function's Policies allow, read as Needs are.
type Grants struct {
	DynamoDB map[Need]bool
	// SMS: sns:Publish is allowed on "*" (a phone number has no ARN) and
	// denied on every topic ARN.
	SMS bool
	// SNS: any sns: action is allowed at all.
	SNS bool
	// Problems are grants wider than any need can be: no LeadingKeys,
	// wildcards in actions, other resources, policies that are not
	// statements, sns:Publish without the deny on topics.
	Problems []string
}

// ReadGrants reads the DynamoDB and SNS grants of a function's Policies.
func ReadGrants(tpl *samtemplate.Template, fn samtemplate.Function) *Grants {
	out := &Grants{DynamoDB: map[Need]bool{}}
	table := ""
	if len(tpl.Tables) == 1 {
		table = tpl.Tables[0].LogicalID
	}
	res := tpl.Resources[fn.LogicalID]
	policies, _ := res.Properties["Policies"].([]any)
	if p, ok := res.Properties["Policies"]; ok && policies == nil {
		out.Problems = append(out.Problems, fmt.Sprintf("Policies is %T, not a list of statements", p))
	}
	publishAllowed, topicsDenied := false, false
	for i, p := range policies {
		doc, ok := p.(map[string]any)
		stmts, sok := doc["Statement"].([]any)
		if !ok || !sok {
			out.Problems = append(out.Problems, fmt.Sprintf("policy %d is not a policy document with statements (a managed policy or a SAM policy template cannot be checked)", i))
			continue
		}
		for j, s := range stmts {
			st, _ := s.(map[string]any)
			where := fmt.Sprintf("policy %d statement %d", i, j)
			effect, _ := st["Effect"].(string)
			actions := strList(st["Action"])
			if _, ok := st["NotAction"]; ok {
				out.Problems = append(out.Problems, where+": NotAction")
			}
			if _, ok := st["NotResource"]; ok {
				out.Problems = append(out.Problems, where+": NotResource")
			}
			var ddb []string
			for _, a := range actions {
				svc, name, _ := strings.Cut(a, ":")
				switch {
				case a == "*" || strings.Contains(name, "*"):
					if effect == "Allow" {
						out.Problems = append(out.Problems, fmt.Sprintf("%s: action %q has a wildcard", where, a))
					}
				case strings.EqualFold(svc, "dynamodb"):
					ddb = append(ddb, name)
				case strings.EqualFold(svc, "sns") && effect == "Allow":
					out.SNS = true
					if name == "Publish" && isStar(st["Resource"]) && len(actions) == 1 {
						publishAllowed = true
					} else {
						out.Problems = append(out.Problems, fmt.Sprintf("%s: %s allowed on %v (only sns:Publish alone on \"*\", for SMS)", where, a, st["Resource"]))
					}
				case strings.EqualFold(svc, "sns") && effect == "Deny":
					if name == "Publish" && deniesTopics(st["Resource"]) {
						topicsDenied = true
					}
				}
			}
			if len(ddb) == 0 || effect != "Allow" {
				continue
			}
			index, ok := dynamoResource(st["Resource"], table)
			if !ok {
				out.Problems = append(out.Problems, fmt.Sprintf("%s: dynamodb on %v (only the table or one of its indexes, by name)", where, st["Resource"]))
				continue
			}
			prefixes, problem := leadingKeys(st["Condition"])
			if problem != "" {
				out.Problems = append(out.Problems, fmt.Sprintf("%s: %s", where, problem))
				continue
			}
			for _, a := range ddb {
				for _, p := range prefixes {
					out.DynamoDB[Need{Action: a, Index: index, Prefix: p}] = true
				}
			}
		}
	}
	if publishAllowed && !topicsDenied {
		out.Problems = append(out.Problems, "sns:Publish is allowed with no Deny of sns:Publish on topic ARNs (arn:${AWS::Partition}:sns:*:*:*): it reaches every topic, not only SMS")
	}
	out.SMS = publishAllowed && topicsDenied
	sort.Strings(out.Problems)
	return out
}

func strList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func isStar(v any) bool {
	l := strList(v)
	return len(l) == 1 && l[0] == "*"
}

// deniesTopics: the resource is every SNS ARN of the account's partition.
func deniesTopics(v any) bool {
	return reflect.DeepEqual(v, map[string]any{"Fn::Sub": "arn:${AWS::Partition}:sns:*:*:*"})
}

// dynamoResource reads a resource as the table (index "") or one index of
// it (!Sub "${Table.Arn}/index/NAME"); ok is false for anything else.
func dynamoResource(v any, table string) (index string, ok bool) {
	if reflect.DeepEqual(v, map[string]any{"Fn::GetAtt": []any{table, "Arn"}}) {
		return "", true
	}
	if m, isMap := v.(map[string]any); isMap && len(m) == 1 {
		if sub, isStr := m["Fn::Sub"].(string); isStr {
			name, found := strings.CutPrefix(sub, "${"+table+".Arn}/index/")
			if found && name != "" && !strings.ContainsAny(name, "*?$/") {
				return name, true
			}
		}
	}
	return "", false
}

// leadingKeys reads ForAllValues:StringLike dynamodb:LeadingKeys, each
// pattern a prefix and one trailing "*".
func leadingKeys(cond any) ([]string, string) {
	c, _ := cond.(map[string]any)
	like, _ := c["ForAllValues:StringLike"].(map[string]any)
	pats := strList(like["dynamodb:LeadingKeys"])
	if len(pats) == 0 {
		return nil, "no ForAllValues:StringLike dynamodb:LeadingKeys condition: every item is reachable"
	}
	if len(c) != 1 || len(like) != 1 {
		return nil, fmt.Sprintf("a condition other than LeadingKeys alone: %v", cond)
	}
	var out []string
	for _, p := range pats {
		pre, found := strings.CutSuffix(p, "*")
		if !found || pre == "" || strings.ContainsAny(pre, "*?") {
			return nil, fmt.Sprintf("LeadingKeys pattern %q is not PREFIX*", p)
		}
		out = append(out, pre)
	}
	return out, ""
}

// Check holds every function's grants equal to its code's needs; it
// returns one line per difference, naming the function and the grant.
func Check(tpl *samtemplate.Template, needs map[string]*Needs) []string {
	var out []string
	for _, fn := range tpl.Functions {
		n := needs[fn.Name()]
		if n == nil {
			out = append(out, fmt.Sprintf("%s: no code found for %s", fn.LogicalID, fn.CodeURI))
			continue
		}
		for _, p := range n.Problems {
			out = append(out, fmt.Sprintf("%s: code: %s", fn.LogicalID, p))
		}
		g := ReadGrants(tpl, fn)
		for _, p := range g.Problems {
			out = append(out, fmt.Sprintf("%s: wider than the code: %s", fn.LogicalID, p))
		}
		for need := range g.DynamoDB {
			if !n.DynamoDB[need] {
				out = append(out, fmt.Sprintf("%s: wider than the code: grants %s, which its code never does", fn.LogicalID, need))
			}
		}
		for need := range n.DynamoDB {
			if !g.DynamoDB[need] {
				out = append(out, fmt.Sprintf("%s: narrower than the code: its code does %s, not granted", fn.LogicalID, need))
			}
		}
		switch {
		case n.SMS && !g.SMS:
			out = append(out, fmt.Sprintf("%s: narrower than the code: it sends SMS through SNS, and sns:Publish is not granted on \"*\" with topics denied", fn.LogicalID))
		case !n.SMS && g.SNS:
			out = append(out, fmt.Sprintf("%s: wider than the code: an sns: grant, and its code publishes nothing", fn.LogicalID))
		}
	}
	sort.Strings(out)
	return out
}
