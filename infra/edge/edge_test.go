package edge

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/pccc/pccc/infra/samtemplate"
)

func TestWebACLMatchesTheMainTemplate(t *testing.T) {
	main, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := samtemplate.Load("webacl.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, ok := main.Resources["WebAcl"]
	if !ok {
		t.Fatal("template.yaml has no WebAcl")
	}
	b, ok := second.Resources["WebAcl"]
	if !ok {
		t.Fatal("webacl.yaml has no WebAcl")
	}
	if a.Type != "AWS::WAFv2::WebACL" || b.Type != a.Type {
		t.Fatalf("types %s, %s", a.Type, b.Type)
	}
	if !reflect.DeepEqual(a.Properties, b.Properties) {
		t.Errorf("the two web ACLs differ:\ntemplate.yaml: %v\nwebacl.yaml:   %v", a.Properties, b.Properties)
	}
	if a.Condition != "CreateWebAcl" {
		t.Errorf("template.yaml's WebAcl has condition %q, want CreateWebAcl", a.Condition)
	}
	if pa, pb := main.Parameters["WafRateLimit"], second.Parameters["WafRateLimit"]; !reflect.DeepEqual(pa, pb) || !pa.HasDefault {
		t.Errorf("WafRateLimit: %+v vs %+v", pa, pb)
	}
	if _, ok := second.Outputs["WebAclArn"]; !ok {
		t.Error("webacl.yaml has no WebAclArn output")
	}
	// What the web ACL must do: rate per IP answered 429, and managed groups.
	props := a.Properties
	if props["Scope"] != "CLOUDFRONT" {
		t.Errorf("Scope %v", props["Scope"])
	}
	var rate, managed int
	for _, r := range props["Rules"].([]any) {
		st := r.(map[string]any)["Statement"].(map[string]any)
		if rb, ok := st["RateBasedStatement"].(map[string]any); ok && rb["AggregateKeyType"] == "IP" {
			rate++
			resp := r.(map[string]any)["Action"].(map[string]any)["Block"].(map[string]any)["CustomResponse"].(map[string]any)
			if resp["ResponseCode"] != 429 {
				t.Errorf("rate rule answers %v", resp["ResponseCode"])
			}
		}
		if mg, ok := st["ManagedRuleGroupStatement"].(map[string]any); ok && mg["VendorName"] == "AWS" {
			managed++
		}
	}
	if rate != 1 || managed < 2 {
		t.Errorf("%d rate rules, %d managed groups", rate, managed)
	}
}

// The site's bucket is private, TLS only and versioned, read by this
// distribution alone through origin access control; the distribution has
// the web ACL in both regions' cases, so no page request skips the WAF.
func TestSiteBucketPrivateAndBehindTheWAF(t *testing.T) {
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(m any, path ...string) any {
		for _, k := range path {
			mm, ok := m.(map[string]any)
			if !ok {
				return nil
			}
			m = mm[k]
		}
		return m
	}
	bucket := tpl.Resources["SiteBucket"]
	if bucket.Type != "AWS::S3::Bucket" {
		t.Fatalf("SiteBucket is %q", bucket.Type)
	}
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if v := get(bucket.Properties, "PublicAccessBlockConfiguration", k); v != true {
			t.Errorf("SiteBucket %s = %v, want true", k, v)
		}
	}
	if v := get(bucket.Properties, "VersioningConfiguration", "Status"); v != "Enabled" {
		t.Errorf("SiteBucket versioning %v", v)
	}

	policy := tpl.Resources["SiteBucketPolicy"]
	if !reflect.DeepEqual(get(policy.Properties, "Bucket"), map[string]any{"Ref": "SiteBucket"}) {
		t.Errorf("SiteBucketPolicy is on %v", get(policy.Properties, "Bucket"))
	}
	tlsOnly := false
	for _, s := range get(policy.Properties, "PolicyDocument", "Statement").([]any) {
		effect, principal := get(s, "Effect"), get(s, "Principal")
		if effect == "Allow" && get(principal, "Service") != "cloudfront.amazonaws.com" {
			t.Errorf("the bucket policy allows %v", principal)
		}
		if effect == "Allow" && get(s, "Condition", "StringEquals", "AWS:SourceArn") == nil {
			t.Errorf("an Allow without the distribution's SourceArn: %v", s)
		}
		if effect == "Deny" && principal == "*" && get(s, "Action") == "s3:*" && get(s, "Condition", "Bool", "aws:SecureTransport") == "false" {
			if res, _ := get(s, "Resource").([]any); len(res) == 2 {
				tlsOnly = true
			}
		}
	}
	if !tlsOnly {
		t.Error("no Deny of s3:* without TLS on the bucket and its objects")
	}

	cfg := get(tpl.Resources["Distribution"].Properties, "DistributionConfig")
	if acl := get(cfg, "WebACLId", "Fn::If"); !reflect.DeepEqual(acl, []any{"CreateWebAcl", map[string]any{"Fn::GetAtt": []any{"WebAcl", "Arn"}}, map[string]any{"Ref": "WebAclArn"}}) {
		t.Errorf("WebACLId = %v, want the stack's web ACL or the one given", get(cfg, "WebACLId"))
	}
	if p := tpl.Parameters["WebAclArn"]; !p.HasDefault {
		t.Errorf("WebAclArn parameter: %+v", p)
	}
	found := false
	for _, o := range get(cfg, "Origins").([]any) {
		if get(o, "Id") != "site" {
			continue
		}
		found = true
		if !reflect.DeepEqual(get(o, "OriginAccessControlId"), map[string]any{"Fn::GetAtt": []any{"SiteOriginAccessControl", "Id"}}) || get(o, "S3OriginConfig", "OriginAccessIdentity") != "" {
			t.Errorf("the site origin is not read through origin access control: %v", o)
		}
	}
	if !found {
		t.Error("no site origin")
	}
	oac := tpl.Resources["SiteOriginAccessControl"]
	if get(oac.Properties, "OriginAccessControlConfig", "SigningBehavior") != "always" || get(oac.Properties, "OriginAccessControlConfig", "OriginAccessControlOriginType") != "s3" {
		t.Errorf("SiteOriginAccessControl %v", oac.Properties)
	}
}
