package leastpriv

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pccc/pccc/infra/samtemplate"
)

var (
	loadOnce sync.Once
	allNeeds map[string]*Needs
	loadErr  error
)

// needsOfTheCode reads every function's code once for all the tests.
func needsOfTheCode(t *testing.T) map[string]*Needs {
	t.Helper()
	loadOnce.Do(func() {
		p, err := Load(filepath.Join("..", ".."))
		if err != nil {
			loadErr = err
			return
		}
		allNeeds = map[string]*Needs{}
		for _, name := range p.Functions() {
			n, err := p.Needs(name)
			if err != nil {
				loadErr = err
				return
			}
			allNeeds[name] = n
		}
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return allNeeds
}

func templateText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func parse(t *testing.T, text string) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// Every function's DynamoDB and SNS grants in template.yaml are exactly
// what its code does: no grant its code never uses, no call without one.
func TestGrantsMatchTheCode(t *testing.T) {
	needs := needsOfTheCode(t)
	tpl := parse(t, templateText(t))
	if len(tpl.Functions) != len(needs) {
		t.Errorf("the template declares %d functions, functions/ has %d mains", len(tpl.Functions), len(needs))
	}
	for _, d := range Check(tpl, needs) {
		t.Error(d)
	}
}

// The analysis sees what each kind of function does: it is not blind, so
// the equality above means something. (Examples, not the whole list.)
func TestNeedsSeeTheCode(t *testing.T) {
	needs := needsOfTheCode(t)
	for _, tt := range []struct {
		fn   string
		need Need
	}{
		{"codelookup", Need{"GetItem", "", "HOLDER#"}},
		{"codeworker", Need{"PutItem", "", "CODE#"}},
		{"codeworker", Need{"UpdateItem", "", "STAT#"}},
		{"codereissue", Need{"UpdateItem", "", "RATE#commands#"}},
		{"realname", Need{"UpdateItem", "", "RATE#rrnfail:"}},
		{"smscode", Need{"UpdateItem", "", "RATE#smsphone:"}},
		{"clearancecheck", Need{"UpdateItem", "", "RATE#clearance#code#"}},
		{"declarationfile", Need{"DeleteItem", "", "IDEM#apikey:"}},
		{"codeexpiry", Need{"Query", "GSI1", "EXPIRY#"}},
		{"holderchecks", Need{"Query", "GSI1", "CHECKS#"}},
		{"statsexport", Need{"BatchGetItem", "", "STAT#"}},
	} {
		if n := needs[tt.fn]; n == nil || !n.DynamoDB[tt.need] {
			t.Errorf("%s: the analysis did not find %s", tt.fn, tt.need)
		}
	}
	if n := needs["openapi"]; n == nil || len(n.DynamoDB) != 0 || n.SMS {
		t.Errorf("openapi reads nothing: %+v", n)
	}
	if n := needs["codelookup"]; n != nil && n.DynamoDB[Need{"PutItem", "", "HOLDER#"}] {
		t.Error("codelookup only reads, yet the analysis says it puts holders")
	}
	if !needs["smssender"].SMS || needs["smscode"].SMS {
		t.Errorf("only the sender publishes SMS: smssender %v, smscode %v", needs["smssender"].SMS, needs["smscode"].SMS)
	}
}

// The check fails on a template whose grants are widened or narrowed: each
// edit of the real template is caught, and named.
func TestWidenedOrNarrowedGrantsFail(t *testing.T) {
	needs := needsOfTheCode(t)
	text := templateText(t)
	for _, tt := range []struct {
		name, old, new, want string
	}{
		{
			name: "a prefix the code never touches",
			old:  "      CodeUri: functions/codelookup\n",
			want: `LookupCodeFunction: wider than the code: grants dynamodb:GetItem on table for CODE#*`,
		},
		{
			name: "an action the code never makes",
			old:  "      CodeUri: functions/requeststatus\n",
			want: `RequestStatusFunction: wider than the code: grants dynamodb:DeleteItem on table for REQ#*`,
		},
		{
			name: "no LeadingKeys",
			old:  "      CodeUri: functions/statsexport\n",
			want: `StatsExportFunction: wider than the code: policy 0 statement 0: no ForAllValues:StringLike dynamodb:LeadingKeys condition`,
		},
		{
			name: "a wildcard action",
			old:  "      CodeUri: functions/authoritystats\n",
			want: `AuthorityStatsFunction: wider than the code: policy 0 statement 0: action "dynamodb:*" has a wildcard`,
		},
		{
			name: "every index",
			old:  "      CodeUri: functions/holderchecks\n",
			want: `HolderChecksFunction: wider than the code: policy 0 statement 0: dynamodb on map[Fn::Sub:${Table.Arn}/index/*]`,
		},
		{
			name: "SMS to topics too",
			old:  "      CodeUri: functions/smssender\n",
			want: `SmsSenderFunction: wider than the code: sns:Publish is allowed with no Deny`,
		},
		{
			name: "SNS for a function that sends nothing",
			old:  "      CodeUri: functions/smscode\n",
			want: `SendCodeFunction: wider than the code: an sns: grant, and its code publishes nothing`,
		},
		{
			name: "a grant the code needs, removed",
			old:  "      CodeUri: functions/requeststatus\n",
			new:  `dynamodb:LeadingKeys: ["VER#*"]`,
			want: `RequestStatusFunction: narrower than the code: its code does dynamodb:GetItem on table for REQ#*, not granted`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(text, tt.old) {
				t.Fatalf("the template has no %q to edit", tt.old)
			}
			var edited string
			if tt.new != "" {
				// The function's first leading keys are replaced.
				at := strings.Index(text, tt.old)
				keys := strings.Index(text[at:], "dynamodb:LeadingKeys: [")
				end := strings.Index(text[at+keys:], "]")
				edited = text[:at+keys] + tt.new + text[at+keys+end+1:]
			} else {
				// The function's own Policies give way to the widened one.
				at := strings.Index(text, tt.old)
				own := strings.Index(text[at:], "      Policies:\n")
				if own < 0 {
					t.Fatalf("no Policies after %q", tt.old)
				}
				edited = text[:at+own] + widen[tt.name] + text[at+own+len("      Policies:\n"):]
			}
			diffs := Check(parse(t, edited), needs)
			found := false
			for _, d := range diffs {
				if strings.Contains(d, tt.want) {
					found = true
					t.Logf("caught: %s", d)
				}
			}
			if !found {
				t.Errorf("the edit was not caught; want %q in:\n%s", tt.want, strings.Join(diffs, "\n"))
			}
		})
	}
}

// widen holds, for each widening case, the Policies put in place of the
// function's own.
var widen = map[string]string{
	"a prefix the code never touches": policy(`Action: [dynamodb:GetItem]
              Resource: !GetAtt Table.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["HOLDER#*", "CODE#*"]`),
	"an action the code never makes": policy(`Action: [dynamodb:GetItem, dynamodb:DeleteItem]
              Resource: !GetAtt Table.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["REQ#*"]`),
	"no LeadingKeys": policy(`Action: [dynamodb:BatchGetItem]
              Resource: !GetAtt Table.Arn`),
	"a wildcard action": policy(`Action: ["dynamodb:*"]
              Resource: !GetAtt Table.Arn
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["STAT#*"]`),
	"every index": policy(`Action: [dynamodb:Query]
              Resource: !Sub "${Table.Arn}/index/*"
              Condition:
                ForAllValues:StringLike:
                  dynamodb:LeadingKeys: ["CHECKS#*"]`),
	"SMS to topics too": policy(`Action: [sns:Publish]
              Resource: "*"`),
	"SNS for a function that sends nothing": policy(`Action: [sns:Publish]
              Resource: "*"
            - Effect: Deny
              Action: [sns:Publish]
              Resource: !Sub "arn:${AWS::Partition}:sns:*:*:*"`),
}

// policy is a Policies block of one statement; the function's own
// statements follow under another name, which nothing reads.
func policy(statement string) string {
	return "      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              " + statement + "\n      OwnPolicies:\n"
}
