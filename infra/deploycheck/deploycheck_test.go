package deploycheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pccc/pccc/infra/samtemplate"
)

func repo(t *testing.T) (*samtemplate.Template, func(env string) Overrides) {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl, func(env string) Overrides {
		f, err := os.Open(filepath.Join("..", "..", "samconfig.toml"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		o, err := SamconfigOverrides(f, env)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
}

// The production parameters have no default: samconfig's prod env alone
// cannot deploy, and the check names every one missing.
func TestProdWithoutItsParametersIsRefused(t *testing.T) {
	tpl, samconfig := repo(t)
	for _, n := range []string{"BureauUrl", "CarrierUrl", "AllowedOrigin", "SmsRate", "PublicSiteUrl"} {
		if tpl.Parameters[n].HasDefault {
			t.Errorf("%s has a default (%q): a deploy that forgets it would use it", n, tpl.Parameters[n].Default)
		}
	}
	err := Check(tpl, samconfig("prod"))
	if err == nil {
		t.Fatal("prod without the production parameters passed the check")
	}
	for _, n := range []string{"BureauUrl", "CarrierUrl", "AllowedOrigin", "SmsRate", "PublicSiteUrl"} {
		if !strings.Contains(err.Error(), n) {
			t.Errorf("the refusal does not name %s: %v", n, err)
		}
	}
	if !strings.HasPrefix(err.Error(), "missing parameters") {
		t.Errorf("err = %v", err)
	}
}

func TestProdWithItsParameters(t *testing.T) {
	tpl, samconfig := repo(t)
	o := samconfig("prod")
	if err := ParseOverrides(`BureauUrl=https://api.bureau.co.kr CarrierUrl=https://check.carrier.co.kr AllowedOrigin=https://pccc.go.kr SmsRate=20 PublicSiteUrl=https://pccc.go.kr`, &o); err != nil {
		t.Fatal(err)
	}
	// Whatever other parameter without a default the template has (the
	// alarms' address, ...) is given a well-formed value here, so that
	// this test checks the named ones and the merge.
	for n, p := range tpl.Parameters {
		if _, ok := o.Get(n); !ok && !p.HasDefault {
			t.Logf("also giving %s", n)
			o.Set(n, "operators@pccc.go.kr")
		}
	}
	if err := Check(tpl, o); err != nil {
		t.Fatalf("complete prod parameters refused: %v", err)
	}
	s := o.String()
	for _, want := range []string{"Stage=prod", "DeletionProtection=true", "BureauUrl=https://api.bureau.co.kr", "SmsRate=20"} {
		if !strings.Contains(s, want) {
			t.Errorf("merged overrides %q lack %s", s, want)
		}
	}
}

// dev's samconfig gives its placeholders explicitly and deploys as it is.
func TestDevIsComplete(t *testing.T) {
	tpl, samconfig := repo(t)
	o := samconfig("default")
	for n, p := range tpl.Parameters {
		if _, ok := o.Get(n); !ok && !p.HasDefault && n != "AlertEmail" {
			t.Errorf("samconfig.toml's default env does not give %s, which has no default", n)
		}
	}
	if _, ok := tpl.Parameters["AlertEmail"]; ok {
		if _, given := o.Get("AlertEmail"); !given {
			o.Set("AlertEmail", "dev-alerts@pccc.go.kr")
		}
	}
	if err := Check(tpl, o); err != nil {
		t.Errorf("dev: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(`
Parameters:
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Url: {Type: String, AllowedPattern: "^https://[^\\s]+$"}
  Rate: {Type: Number}
Resources:
  B: {Type: AWS::S3::Bucket}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ params, want string }{
		{"", "missing parameters (no default, not given): Rate, Url"},
		{"Url=https://a.b Rate=", "missing parameters (no default, not given): Rate"},
		{"Url=http://a.b Rate=1", "Url=http://a.b does not match its AllowedPattern"},
		{"Url=https://a.b Rate=1 Stage=staging", "Stage=staging is not one of dev, prod"},
		{"Url=https://bureau.invalid Rate=1 Stage=prod", "Url=https://bureau.invalid is a placeholder"},
		{"Url=https://localhost:9 Rate=1 Stage=prod", "is a placeholder"},
		{"Url=https://a.b Rate=1 Typo=1", "Typo is not a parameter of the template"},
	} {
		var o Overrides
		if err := ParseOverrides(tt.params, &o); err != nil {
			t.Fatal(err)
		}
		err := Check(tpl, o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.params, err, tt.want)
		}
	}
	var o Overrides
	if err := ParseOverrides("Url=https://a.b Rate=1 Stage=dev", &o); err != nil {
		t.Fatal(err)
	}
	if err := Check(tpl, o); err != nil {
		t.Errorf("a complete dev: %v", err)
	}
	// A placeholder is fine outside prod.
	o.Set("Url", "https://bureau.invalid")
	if err := Check(tpl, o); err != nil {
		t.Errorf("dev placeholder: %v", err)
	}
}

func TestParseOverrides(t *testing.T) {
	var o Overrides
	if err := ParseOverrides(`A=1  B="two words" C=x=y`, &o); err != nil {
		t.Fatal(err)
	}
	if v, _ := o.Get("B"); v != "two words" {
		t.Errorf("B = %q", v)
	}
	if v, _ := o.Get("C"); v != "x=y" {
		t.Errorf("C = %q", v)
	}
	for _, bad := range []string{"novalue", `A="open`, "=1"} {
		if err := ParseOverrides(bad, &Overrides{}); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, err := SamconfigOverrides(strings.NewReader("[x.deploy.parameters]\n"), "prod"); err == nil {
		t.Error("a missing config env was not reported")
	}
}

func FuzzParseOverrides(f *testing.F) {
	f.Add(`A=1 B="x y" C=`)
	f.Fuzz(func(t *testing.T, s string) {
		var o Overrides
		if err := ParseOverrides(s, &o); err != nil {
			return
		}
		for _, n := range o.names {
			if n == "" || strings.ContainsAny(n, " \t\"=") {
				t.Fatalf("%q gave the name %q", s, n)
			}
			if v, _ := o.Get(n); strings.Contains(v, `"`) && !strings.Contains(s, v) {
				t.Fatalf("%q gave %s the value %q, not in the input", s, n, v)
			}
		}
	})
}
