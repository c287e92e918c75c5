// Package leastpriv proves template.yaml's DynamoDB and SNS grants: for
// each function it reads the function's code (functions/<name>/main.go and
// all it can reach), finds the store methods of shared/dynamo it can call,
// looks up in dynamo.Accesses which actions and key prefixes each needs,
// resolves the prefixes callers choose (the limiter's bound keys, the
// idempotency scopes) from the string constants the code builds them
// from, and compares that with the function's Policies, both ways: a
// grant the code does not need is as much a failure as a need no grant
// covers.
//
// The call graph is rapid type analysis without reflection: a function is
// reachable from main if a reachable function calls it, names it (a
// function value, a method value, a closure), or calls an interface method
// it implements on a type that reachable code turns into an interface.
// Only this module's packages are read from source; the libraries are
// types only, so a call into them is followed no further (our handlers
// reach the runtime as function values, which count as reached).
package leastpriv

import (
	"fmt"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/packages"
	"golang.org/x/tools/go/ssa"
	"golang.org/x/tools/go/ssa/ssautil"
)

// Module is the Go module's path.
const Module = "github.com/pccc/pccc"

// Program is the SSA form of every function's code.
type Program struct {
	prog  *ssa.Program
	mains map[string]*ssa.Package // by folder name under functions/
}

// Load reads the module at root (the repository's folder): its function
// mains and the shared packages, from source.
func Load(root string) (*Program, error) {
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedCompiledGoFiles | packages.NeedImports |
			packages.NeedTypes | packages.NeedTypesInfo | packages.NeedSyntax | packages.NeedTypesSizes,
		Dir: root,
	}
	pkgs, err := packages.Load(cfg, "./functions/...", "./shared/...")
	if err != nil {
		return nil, err
	}
	var problems []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			problems = append(problems, e.Error())
		}
	})
	if len(problems) > 0 {
		return nil, fmt.Errorf("load: %s", strings.Join(problems, "; "))
	}
	prog, spkgs := ssautil.AllPackages(pkgs, ssa.InstantiateGenerics)
	prog.Build()
	p := &Program{prog: prog, mains: map[string]*ssa.Package{}}
	for _, sp := range spkgs {
		if sp != nil && sp.Pkg.Name() == "main" && strings.HasPrefix(sp.Pkg.Path(), Module+"/functions/") {
			p.mains[strings.TrimPrefix(sp.Pkg.Path(), Module+"/functions/")] = sp
		}
	}
	return p, nil
}

// Functions are the folder names of the functions found.
func (p *Program) Functions() []string {
	var out []string
	for name := range p.mains {
		out = append(out, name)
	}
	return out
}

// site is one call: the caller and what it calls with.
type site struct {
	caller *ssa.Function
	call   *ssa.CallCommon
}

// graph is what one function's code reaches.
type graph struct {
	prog      *ssa.Program
	reached   map[*ssa.Function]bool
	queue     []*ssa.Function
	converted map[types.Type]bool // types made into interface values
	convList  []types.Type
	invokes   []site                   // interface method calls
	callers   map[*ssa.Function][]site // static and resolved calls, by callee
	resolved  map[*ssa.Function]map[*ssa.CallCommon]bool
	inField   map[string]bool // fields being followed (needs.go)
	// Interface fields: the types reached code stores in each, the calls
	// made on a value read from it, and the fields given something else
	// than a conversion (those calls then go to every converted type).
	fieldTypes   map[string]map[types.Type]bool
	fieldInvokes map[string][]site
	fieldAny     map[string]bool
}

func (p *Program) reach(name string) (*graph, error) {
	main := p.mains[name]
	if main == nil {
		return nil, fmt.Errorf("no main package functions/%s", name)
	}
	g := &graph{prog: p.prog, reached: map[*ssa.Function]bool{}, converted: map[types.Type]bool{},
		callers: map[*ssa.Function][]site{}, resolved: map[*ssa.Function]map[*ssa.CallCommon]bool{}, inField: map[string]bool{},
		fieldTypes: map[string]map[types.Type]bool{}, fieldInvokes: map[string][]site{}, fieldAny: map[string]bool{}}
	g.add(main.Func("init"))
	g.add(main.Func("main"))
	for len(g.queue) > 0 {
		f := g.queue[len(g.queue)-1]
		g.queue = g.queue[:len(g.queue)-1]
		g.visit(f)
	}
	return g, nil
}

func (g *graph) add(f *ssa.Function) {
	if f == nil || g.reached[f] {
		return
	}
	g.reached[f] = true
	g.queue = append(g.queue, f)
}

func (g *graph) visit(f *ssa.Function) {
	for _, b := range f.Blocks {
		for _, instr := range b.Instrs {
			var ops []*ssa.Value
			for _, op := range instr.Operands(ops) {
				if op == nil {
					continue
				}
				if fn, ok := (*op).(*ssa.Function); ok {
					g.add(fn)
				}
			}
			if mi, ok := instr.(*ssa.MakeInterface); ok {
				g.convert(mi.X.Type())
			}
			if st, ok := instr.(*ssa.Store); ok {
				if fa, ok := st.Addr.(*ssa.FieldAddr); ok && types.IsInterface(st.Val.Type()) {
					g.storeField(fieldName(fa), st.Val)
				}
			}
			c, ok := instr.(ssa.CallInstruction)
			if !ok {
				continue
			}
			common := c.Common()
			if common.IsInvoke() {
				s := site{caller: f, call: common}
				if name := loadedField(common.Value); name != "" && !g.fieldAny[name] {
					g.fieldInvokes[name] = append(g.fieldInvokes[name], s)
					for t := range g.fieldTypes[name] {
						g.resolve(s, t)
					}
					continue
				}
				g.invokes = append(g.invokes, s)
				for _, t := range g.convList {
					g.resolve(s, t)
				}
				continue
			}
			if callee := common.StaticCallee(); callee != nil {
				g.callers[callee] = append(g.callers[callee], site{caller: f, call: common})
				g.add(callee)
			}
		}
	}
}

// loadedField names the field a value was read from, "" if it was not.
func loadedField(v ssa.Value) string {
	if u, ok := v.(*ssa.UnOp); ok && u.Op == token.MUL {
		if fa, ok := u.X.(*ssa.FieldAddr); ok {
			return fieldName(fa)
		}
	}
	return ""
}

// storeField notes what an interface field is given: a converted type,
// nothing (nil), or a value of unknown type (then any converted type).
func (g *graph) storeField(name string, v ssa.Value) {
	if name == "" || g.fieldAny[name] {
		return
	}
	if c, ok := v.(*ssa.Const); ok && c.IsNil() {
		return
	}
	if mi, ok := v.(*ssa.MakeInterface); ok {
		t := mi.X.Type()
		if g.fieldTypes[name] == nil {
			g.fieldTypes[name] = map[types.Type]bool{}
		}
		if !g.fieldTypes[name][t] {
			g.fieldTypes[name][t] = true
			for _, s := range g.fieldInvokes[name] {
				g.resolve(s, t)
			}
		}
		return
	}
	g.fieldAny[name] = true
	for _, s := range g.fieldInvokes[name] {
		g.invokes = append(g.invokes, s)
		for _, t := range g.convList {
			g.resolve(s, t)
		}
	}
	delete(g.fieldInvokes, name)
}

func (g *graph) convert(t types.Type) {
	if g.converted[t] || types.IsInterface(t) {
		return
	}
	g.converted[t] = true
	g.convList = append(g.convList, t)
	for _, s := range g.invokes {
		g.resolve(s, t)
	}
}

// resolve adds t's method for an interface call when t implements the
// interface.
func (g *graph) resolve(s site, t types.Type) {
	iface, ok := s.call.Value.Type().Underlying().(*types.Interface)
	if !ok || !types.Implements(t, iface) {
		return
	}
	m := g.prog.LookupMethod(t, s.call.Method.Pkg(), s.call.Method.Name())
	if m == nil {
		return
	}
	if g.resolved[m] == nil {
		g.resolved[m] = map[*ssa.CallCommon]bool{}
	}
	if !g.resolved[m][s.call] {
		g.resolved[m][s.call] = true
		g.callers[m] = append(g.callers[m], s)
	}
	g.add(m)
}

// outer is the named function a closure is written in.
func outer(f *ssa.Function) *ssa.Function {
	for f.Parent() != nil {
		f = f.Parent()
	}
	return f
}

// methodName is "Type.Method" for a method declared in package path, ""
// otherwise (functions, wrappers, other packages).
func methodName(f *ssa.Function, path string) string {
	if f.Synthetic != "" || f.Pkg == nil || f.Pkg.Pkg.Path() != path {
		return ""
	}
	recv := f.Signature.Recv()
	if recv == nil {
		return ""
	}
	t := recv.Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := t.(*types.Named)
	if !ok {
		return ""
	}
	return n.Obj().Name() + "." + f.Name()
}
