// Package deploycheck is what `make deploy` runs before sam build: it reads
// template.yaml's parameters and the parameter overrides a deploy would
// pass (samconfig.toml's for the config env, then the operator's PARAMS),
// and refuses the deploy when a parameter without a default is not given,
// when a value does not match its AllowedPattern, or, for a production
// stage, when a value is a placeholder (a .invalid or example host, or
// localhost). Every problem is named at once. On success it prints the
// merged overrides, which make deploy hands to sam deploy (a
// --parameter-overrides on the command line replaces samconfig's whole).
package deploycheck

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/pccc/pccc/infra/samtemplate"
)

// Overrides are parameter values by name, in the order first given.
type Overrides struct {
	names  []string
	values map[string]string
}

// Set gives name the value, keeping its first position.
func (o *Overrides) Set(name, value string) {
	if o.values == nil {
		o.values = map[string]string{}
	}
	if _, ok := o.values[name]; !ok {
		o.names = append(o.names, name)
	}
	o.values[name] = value
}

// Get is name's value and whether it was given.
func (o Overrides) Get(name string) (string, bool) {
	v, ok := o.values[name]
	return v, ok
}

// String is the overrides as sam deploy's --parameter-overrides takes
// them: Name=value, space-separated.
func (o Overrides) String() string {
	parts := make([]string, 0, len(o.names))
	for _, n := range o.names {
		parts = append(parts, n+"="+o.values[n])
	}
	return strings.Join(parts, " ")
}

// ParseOverrides reads "Name=value Name2=value2" (values may be quoted with
// "..." when they hold spaces) into o.
func ParseOverrides(s string, o *Overrides) error {
	rest := strings.TrimSpace(s)
	for rest != "" {
		name, after, ok := strings.Cut(rest, "=")
		if !ok || name == "" || strings.ContainsAny(name, " \t\"") {
			return fmt.Errorf("parameter overrides: want Name=value, got %q", firstWord(rest))
		}
		var value string
		if strings.HasPrefix(after, `"`) {
			end := strings.Index(after[1:], `"`)
			if end < 0 {
				return fmt.Errorf("parameter overrides: %s's value has no closing quote", name)
			}
			value, rest = after[1:1+end], after[2+end:]
		} else {
			value, rest, _ = strings.Cut(after, " ")
		}
		o.Set(name, value)
		rest = strings.TrimSpace(rest)
	}
	return nil
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}

// SamconfigOverrides reads the deploy parameter_overrides of a config env
// ("default", "prod") from samconfig.toml: the one key this check needs,
// read from its [<env>.deploy.parameters] table.
func SamconfigOverrides(r io.Reader, env string) (Overrides, error) {
	var o Overrides
	want := "[" + env + ".deploy.parameters]"
	in, found := false, false
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			in = line == want
			found = found || in
			continue
		}
		if !in || !strings.HasPrefix(line, "parameter_overrides") {
			continue
		}
		_, v, ok := strings.Cut(line, "=")
		v = strings.TrimSpace(v)
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return o, fmt.Errorf("samconfig.toml %s: parameter_overrides must be one quoted string", want)
		}
		if err := ParseOverrides(strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`), &o); err != nil {
			return o, fmt.Errorf("samconfig.toml %s: %w", want, err)
		}
	}
	if err := sc.Err(); err != nil {
		return o, err
	}
	if !found {
		return o, fmt.Errorf("samconfig.toml has no %s", want)
	}
	return o, nil
}

// placeholder matches values that cannot be a production setting.
var placeholder = regexp.MustCompile(`(?i)(\.invalid\b|\bexample\.(com|org|net|kr)\b|\blocalhost\b|127\.0\.0\.1)`)

// Check reports every problem of a deploy with these overrides: parameters
// without a default that are not given (or given empty), values the
// template's AllowedPattern or AllowedValues refuse, overrides naming no
// parameter, and placeholders when Stage is prod.
func Check(tpl *samtemplate.Template, o Overrides) error {
	var missing, problems []string
	names := make([]string, 0, len(tpl.Parameters))
	for n := range tpl.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	stage, _ := o.Get("Stage")
	if stage == "" {
		stage = tpl.Parameters["Stage"].Default
	}
	for _, n := range names {
		p := tpl.Parameters[n]
		v, given := o.Get(n)
		if !given || v == "" {
			if !p.HasDefault {
				missing = append(missing, n)
			}
			continue
		}
		if p.AllowedPattern != "" {
			re, err := regexp.Compile("^(?:" + p.AllowedPattern + ")$")
			if err == nil && !re.MatchString(v) {
				problems = append(problems, fmt.Sprintf("%s=%s does not match its AllowedPattern %s", n, v, p.AllowedPattern))
			}
		}
		if len(p.AllowedValues) > 0 && !contains(p.AllowedValues, v) {
			problems = append(problems, fmt.Sprintf("%s=%s is not one of %s", n, v, strings.Join(p.AllowedValues, ", ")))
		}
		if stage == "prod" && placeholder.MatchString(v) {
			problems = append(problems, fmt.Sprintf("%s=%s is a placeholder, not a production value", n, v))
		}
	}
	for _, n := range o.names {
		if _, ok := tpl.Parameters[n]; !ok {
			problems = append(problems, fmt.Sprintf("%s is not a parameter of the template", n))
		}
	}
	if len(missing) > 0 {
		problems = append([]string{"missing parameters (no default, not given): " + strings.Join(missing, ", ")}, problems...)
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
