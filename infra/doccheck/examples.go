package doccheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The examples in README.md and docs/api.md are ```sh blocks that a person
// can paste into a shell against `make run`, and that the examples test
// runs in order against the same system (infra/e2e). In a block:
//
//   - NAME=value sets a variable, as the shell does; U (the system's
//     address) and DYNAMODB (its DynamoDB endpoint, which make run's banner
//     prints) are the test's own and keep its values.
//   - a curl line (continued with \) is a request: -X, -H, -d, the URL;
//     -s, -S and -i change nothing here. Its answer is the next line,
//     "# <status> <JSON>" (or a trailing "  # <status> <JSON>" on the curl
//     line itself), the JSON continued on "#   " lines.
//   - the JSON shows what is checked: every member shown must be there with
//     the value shown, others may be there too. "…" stands for any value;
//     inside a string, for any text. [… , x] shows the last elements of an
//     array, [x, …] the first. "$NAME" is a value that changes from run to
//     run: the first time it is seen it is kept as NAME (the reader sets
//     NAME=<that value> in their shell), and after that it must equal it.
//   - a GET is asked again, for up to Env.Wait, until it answers as shown:
//     what a command changes, the worker behind the queue does a moment
//     later, as the person reading would see by asking again.
//   - go run ./infra/cmd/pccc-keys ... runs the operator's command; the
//     "# " lines after it are lines its output must hold, in order.
//   - make ... lines are shown, not run; any other command is an error, so
//     nothing in a block goes unchecked.

// Step is one thing an example does.
type Step struct {
	File string
	Line int
	Text string // as written, continuation lines joined

	kind   string   // "set", "curl", "command"
	words  [][]part // the command line, shell words unexpanded
	name   string   // "set": the variable
	status int      // "curl": the status shown
	body   string   // "curl": the JSON shown, "" for none
	lines  []string // "command": output lines shown
}

// part is a piece of a shell word: literal text, or text whose $NAME are
// expanded (unquoted or double-quoted).
type part struct {
	text   string
	expand bool
}

var (
	answerLine = regexp.MustCompile(`^#\s*([1-5][0-9][0-9])(?:\s+(.*))?$`)
	assignLine = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=`)
	varRef     = regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))`)
)

// Examples reads the ```sh blocks of one Markdown file into steps.
func Examples(file, md string) ([]Step, error) {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(md))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	var steps []Step
	inSh, inOther := false, false
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		switch {
		case strings.HasPrefix(t, "```"):
			switch {
			case inSh || inOther:
				inSh, inOther = false, false
			case strings.TrimSpace(strings.TrimPrefix(t, "```")) == "sh":
				inSh = true
			default:
				inOther = true
			}
			continue
		case !inSh || t == "" || strings.HasPrefix(t, "#"):
			continue
		}
		start := i + 1
		cmd := t
		for strings.HasSuffix(cmd, `\`) && i+1 < len(lines) {
			i++
			cmd = strings.TrimSuffix(cmd, `\`) + " " + strings.TrimSpace(lines[i])
		}
		words, comment, err := splitWords(cmd)
		for err != nil && strings.HasPrefix(err.Error(), "an unclosed") && i+1 < len(lines) {
			// A quoted string goes on over the newline, as in the shell.
			i++
			cmd += "\n" + lines[i]
			for strings.HasSuffix(cmd, `\`) && i+1 < len(lines) {
				i++
				cmd = strings.TrimSuffix(cmd, `\`) + " " + strings.TrimSpace(lines[i])
			}
			words, comment, err = splitWords(cmd)
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", file, start, err)
		}
		st := Step{File: file, Line: start, Text: cmd, words: words}
		where := fmt.Sprintf("%s:%d", file, start)
		switch first := literal(words[0]); {
		case first == "curl":
			st.kind = "curl"
			answer := strings.TrimSpace(comment)
			if answer == "" {
				if i+1 >= len(lines) || !answerLine.MatchString(strings.TrimSpace(lines[i+1])) {
					return nil, fmt.Errorf("%s: a curl line without its answer (# <status> <JSON>) on the next line", where)
				}
				i++
				answer = strings.TrimSpace(lines[i])
			} else {
				answer = "# " + answer
			}
			m := answerLine.FindStringSubmatch(answer)
			if m == nil {
				return nil, fmt.Errorf("%s: the answer %q is not # <status> <JSON>", where, answer)
			}
			st.status, _ = strconv.Atoi(m[1])
			st.body = strings.TrimSpace(m[2])
			for st.body != "" && !json.Valid([]byte(patternJSON(st.body))) && i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "#  ") {
				i++
				st.body += strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i]), "#"))
			}
			if st.body != "" && !json.Valid([]byte(patternJSON(st.body))) {
				return nil, fmt.Errorf("%s: the answer's JSON does not parse: %s", where, st.body)
			}
		case first == "make":
			continue
		case len(words) == 1 && assignLine.MatchString(first):
			st.kind = "set"
			st.name = assignLine.FindStringSubmatch(first)[1]
			w := append([]part(nil), words[0]...)
			w[0].text = strings.TrimPrefix(w[0].text, st.name+"=")
			st.words = [][]part{w}
		default:
			// NAME=value ... go run ./infra/cmd/<command> args
			k := 0
			for k < len(words) && assignLine.MatchString(literal(words[k])) {
				k++
			}
			if k+2 >= len(words) || literal(words[k]) != "go" || literal(words[k+1]) != "run" {
				return nil, fmt.Errorf("%s: %q is neither a curl, a variable, a make line nor go run of a command: the examples test cannot run it", where, cmd)
			}
			st.kind = "command"
			for i+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i+1]), "# ") {
				i++
				st.lines = append(st.lines, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i]), "# ")))
			}
		}
		steps = append(steps, st)
	}
	return steps, nil
}

// literal is a word's text as written, quotes removed, nothing expanded.
func literal(w []part) string {
	var b strings.Builder
	for _, p := range w {
		b.WriteString(p.text)
	}
	return b.String()
}

// splitWords splits a command line as the shell does (single quotes,
// double quotes with \" \\ \$ \`, backslash outside quotes) and returns
// the comment after an unquoted #.
func splitWords(s string) ([][]part, string, error) {
	var words [][]part
	var cur []part
	inWord := false
	add := func(text string, expand bool) {
		inWord = true
		if n := len(cur); n > 0 && cur[n-1].expand == expand {
			cur[n-1].text += text
			return
		}
		cur = append(cur, part{text, expand})
	}
	end := func() {
		if inWord {
			words = append(words, cur)
		}
		cur, inWord = nil, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			end()
		case c == '#' && !inWord:
			end()
			return words, s[i+1:], nil
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, "", errors.New("an unclosed '")
			}
			add(s[i+1:i+1+j], false)
			i += j + 1
		case c == '"':
			var b strings.Builder
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) && strings.IndexByte("\"\\$`", s[j+1]) >= 0 {
					if s[j+1] == '$' {
						add(b.String(), true)
						b.Reset()
						add("$", false)
						j++
						continue
					}
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, "", errors.New(`an unclosed "`)
			}
			add(b.String(), true)
			i = j
		case c == '\\' && i+1 < len(s):
			add(string(s[i+1]), false)
			i++
		default:
			add(string(c), true)
		}
	}
	end()
	if len(words) == 0 {
		return nil, "", errors.New("an empty command")
	}
	return words, "", nil
}

// Env runs steps against a running system.
type Env struct {
	// Vars are the shell's variables; Fixed ones are not changed by an
	// example's own NAME=value (U, DYNAMODB: the system under test).
	Vars  map[string]string
	Fixed map[string]bool
	HTTP  *http.Client
	// Wait is how long a GET is asked again until it answers as shown.
	Wait time.Duration
	// Commands run `go run <path> args` in process: the path (such as
	// ./infra/cmd/pccc-keys) to its main, given the args and the line's
	// NAME=value environment.
	Commands map[string]func(ctx context.Context, args []string, env map[string]string, stdout io.Writer) error
}

// Run carries the steps out in order and stops at the first that does not
// give what it shows, saying where it is.
func (e *Env) Run(ctx context.Context, steps []Step) error {
	for _, st := range steps {
		if err := e.step(ctx, st); err != nil {
			return fmt.Errorf("%s:%d: %s\n  %v", st.File, st.Line, st.Text, err)
		}
	}
	return nil
}

func (e *Env) expand(w []part) (string, error) {
	var b strings.Builder
	var err error
	for _, p := range w {
		if !p.expand {
			b.WriteString(p.text)
			continue
		}
		b.WriteString(varRef.ReplaceAllStringFunc(p.text, func(ref string) string {
			m := varRef.FindStringSubmatch(ref)
			name := m[1] + m[2]
			v, ok := e.Vars[name]
			if !ok && err == nil {
				err = fmt.Errorf("$%s is used before it is set", name)
			}
			return v
		}))
	}
	return b.String(), err
}

func (e *Env) step(ctx context.Context, st Step) error {
	switch st.kind {
	case "set":
		if e.Fixed[st.name] {
			return nil
		}
		v, err := e.expand(st.words[0])
		if err != nil {
			return err
		}
		e.Vars[st.name] = v
		return nil
	case "command":
		return e.command(ctx, st)
	}
	method, url, body := "", "", ""
	header := http.Header{}
	hasBody := false
	for k := 1; k < len(st.words); k++ {
		w, err := e.expand(st.words[k])
		if err != nil {
			return err
		}
		next := func() (string, error) {
			k++
			if k >= len(st.words) {
				return "", fmt.Errorf("%s without its value", w)
			}
			return e.expand(st.words[k])
		}
		switch w {
		case "-s", "-S", "-sS", "-i", "-si":
		case "-X", "--request":
			if method, err = next(); err != nil {
				return err
			}
		case "-H", "--header":
			h, err := next()
			if err != nil {
				return err
			}
			name, value, ok := strings.Cut(h, ":")
			if !ok {
				return fmt.Errorf("header %q has no colon", h)
			}
			header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		case "-d", "--data", "--data-raw":
			if body, err = next(); err != nil {
				return err
			}
			hasBody = true
		default:
			if strings.HasPrefix(w, "-") || url != "" {
				return fmt.Errorf("curl %s: not an option the examples use", w)
			}
			url = w
		}
	}
	if method == "" {
		method = http.MethodGet
		if hasBody {
			method = http.MethodPost
		}
	}
	if hasBody && header.Get("Content-Type") == "" {
		header.Set("Content-Type", "application/x-www-form-urlencoded") // curl's own
	}
	deadline := time.Now().Add(e.Wait)
	for {
		req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header = header.Clone()
		resp, err := e.HTTP.Do(req)
		if err != nil {
			return err
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		err = e.answer(st, resp.StatusCode, raw)
		if err == nil || method != http.MethodGet || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// answer holds an answer to what the step shows and keeps its captures.
func (e *Env) answer(st Step, status int, raw []byte) error {
	if status != st.status {
		return fmt.Errorf("answered %d, the example shows %d: %s", status, st.status, raw)
	}
	if st.body == "" {
		return nil
	}
	var want, got any
	if err := json.Unmarshal([]byte(patternJSON(st.body)), &want); err != nil {
		return fmt.Errorf("the example's JSON: %v", err)
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		return fmt.Errorf("the answer is not JSON: %s", raw)
	}
	caught := map[string]string{}
	if err := e.match("", want, got, caught); err != nil {
		return fmt.Errorf("%v\n  the answer: %s", err, raw)
	}
	for k, v := range caught {
		e.Vars[k] = v
	}
	return nil
}

// patternJSON makes the answer shown JSON: a bare … stands for members or
// elements not shown.
func patternJSON(s string) string {
	r := strings.NewReplacer(",…}", "}", "{…}", "{}", "[…]", `["…"]`, "[…,", `["…",`, ",…]", `,"…"]`)
	return r.Replace(s)
}

const anything = "…"

func (e *Env) match(at string, want, got any, caught map[string]string) error {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: not an object", orRoot(at))
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return fmt.Errorf("%s.%s: missing", at, k)
			}
			if err := e.match(at+"."+k, wv, gv, caught); err != nil {
				return err
			}
		}
		return nil
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: not an array", orRoot(at))
		}
		switch {
		case len(w) > 0 && w[0] == anything: // the last elements
			w = w[1:]
			if len(g) < len(w) {
				return fmt.Errorf("%s: %d elements, the example shows at least %d", orRoot(at), len(g), len(w))
			}
			g = g[len(g)-len(w):]
		case len(w) > 0 && w[len(w)-1] == anything: // the first elements
			w = w[:len(w)-1]
			if len(g) < len(w) {
				return fmt.Errorf("%s: %d elements, the example shows at least %d", orRoot(at), len(g), len(w))
			}
			g = g[:len(w)]
		case len(g) != len(w):
			return fmt.Errorf("%s: %d elements, the example shows %d", orRoot(at), len(g), len(w))
		}
		for i := range w {
			if err := e.match(fmt.Sprintf("%s[%d]", at, i), w[i], g[i], caught); err != nil {
				return err
			}
		}
		return nil
	case string:
		return e.matchString(at, w, got, caught)
	default:
		if fmt.Sprint(want) != fmt.Sprint(got) {
			return fmt.Errorf("%s: %v, the example shows %v", orRoot(at), jsonOf(got), jsonOf(want))
		}
		return nil
	}
}

func orRoot(at string) string {
	if at == "" {
		return "the answer"
	}
	return at
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var whole = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)$`)

func (e *Env) matchString(at, want string, got any, caught map[string]string) error {
	if want == anything {
		return nil
	}
	if m := whole.FindStringSubmatch(want); m != nil {
		gs, ok := got.(string)
		if !ok {
			gs = jsonOf(got)
		}
		return e.bind(at, m[1], gs, caught)
	}
	gs, ok := got.(string)
	if !ok {
		return fmt.Errorf("%s: %s, the example shows the string %q", orRoot(at), jsonOf(got), want)
	}
	// A pattern: … any text, $NAME a value kept or compared.
	var re strings.Builder
	var names []string
	re.WriteString(`(?s)^`)
	rest := want
	for rest != "" {
		i := strings.Index(rest, anything)
		loc := varRef.FindStringSubmatchIndex(rest)
		switch {
		case loc != nil && (i < 0 || loc[0] < i):
			re.WriteString(regexp.QuoteMeta(rest[:loc[0]]))
			var name string
			if loc[2] >= 0 {
				name = rest[loc[2]:loc[3]]
			} else {
				name = rest[loc[4]:loc[5]]
			}
			if v, ok := e.Vars[name]; ok {
				re.WriteString(regexp.QuoteMeta(v))
			} else {
				re.WriteString(`(\S+)`)
				names = append(names, name)
			}
			rest = rest[loc[1]:]
		case i >= 0:
			re.WriteString(regexp.QuoteMeta(rest[:i]) + `.*`)
			rest = rest[i+len(anything):]
		default:
			re.WriteString(regexp.QuoteMeta(rest))
			rest = ""
		}
	}
	re.WriteString(`$`)
	m := regexp.MustCompile(re.String()).FindStringSubmatch(gs)
	if m == nil {
		return fmt.Errorf("%s: %q, the example shows %q", orRoot(at), gs, want)
	}
	for k, name := range names {
		if err := e.bind(at, name, m[k+1], caught); err != nil {
			return err
		}
	}
	return nil
}

// bind keeps a value as NAME the first time, and compares it after.
func (e *Env) bind(at, name, value string, caught map[string]string) error {
	if v, ok := e.Vars[name]; ok {
		if v != value {
			return fmt.Errorf("%s: %q, the example shows $%s = %q", orRoot(at), value, name, v)
		}
		return nil
	}
	if v, ok := caught[name]; ok && v != value {
		return fmt.Errorf("%s: %q, the example shows $%s = %q", orRoot(at), value, name, v)
	}
	caught[name] = value
	return nil
}

func (e *Env) command(ctx context.Context, st Step) error {
	env := map[string]string{}
	k := 0
	for ; assignLine.MatchString(literal(st.words[k])); k++ {
		name := assignLine.FindStringSubmatch(literal(st.words[k]))[1]
		w := append([]part(nil), st.words[k]...)
		w[0].text = strings.TrimPrefix(w[0].text, name+"=")
		v, err := e.expand(w)
		if err != nil {
			return err
		}
		env[name] = v
	}
	path := literal(st.words[k+2])
	run, ok := e.Commands[path]
	if !ok {
		return fmt.Errorf("go run %s: not a command the examples test knows", path)
	}
	var args []string
	for _, w := range st.words[k+3:] {
		a, err := e.expand(w)
		if err != nil {
			return err
		}
		args = append(args, a)
	}
	var out bytes.Buffer
	if err := run(ctx, args, env, &out); err != nil {
		return fmt.Errorf("%v\n%s", err, out.String())
	}
	got := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	caught := map[string]string{}
	j := 0
	for _, want := range st.lines {
		found := false
		for ; j < len(got) && !found; j++ {
			c := map[string]string{}
			if e.matchString("", want, strings.TrimSpace(got[j]), c) == nil {
				found = true
				for k, v := range c {
					caught[k] = v
				}
			}
		}
		if !found {
			return fmt.Errorf("its output has no line %q after the ones before:\n%s", want, out.String())
		}
	}
	for k, v := range caught {
		e.Vars[k] = v
	}
	return nil
}
