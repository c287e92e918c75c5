package leastpriv

import (
	"fmt"
	"go/constant"
	"go/token"
	"go/types"
	"sort"
	"strings"

	"golang.org/x/tools/go/ssa"

	"github.com/pccc/pccc/shared/dynamo"
)

const dynamoPkg = Module + "/shared/dynamo"

// dynamoCalls are the DynamoDB API's item and query calls.
var dynamoCalls = map[string]bool{
	"GetItem": true, "PutItem": true, "UpdateItem": true, "DeleteItem": true, "Query": true, "Scan": true,
	"TransactWriteItems": true, "TransactGetItems": true, "BatchGetItem": true, "BatchWriteItem": true,
	"ExecuteStatement": true, "ExecuteTransaction": true, "BatchExecuteStatement": true,
}

// callerKeys says where the code chooses the {key} part of a store's
// prefixes: the fields and parameters its keys are made in.
var callerKeys = map[string]struct {
	fields []string // "package path.Type.Field"
	params []string // "Type.Method.param" in shared/dynamo
	suffix string   // what the store puts after a key given whole
}{
	"Limiter": {
		fields: []string{Module + "/shared/limits.Bound.Key"},
		params: []string{"Limiter.Allow.key", "Limiter.Lease.key", "Limiter.Leased.key"},
		suffix: "#",
	},
	"IdempotencyStore": {
		fields: []string{Module + "/shared/idempotency.Record.Scope"},
		suffix: "#",
	},
}

// Need is one kind of request a function's code makes: an IAM action
// (without "dynamodb:"), the index ("" for the table) and the key prefix.
type Need struct{ Action, Index, Prefix string }

func (n Need) String() string {
	on := "table"
	if n.Index != "" {
		on = "index " + n.Index
	}
	return fmt.Sprintf("dynamodb:%s on %s for %s*", n.Action, on, n.Prefix)
}

// Needs is what a function's code does with DynamoDB and SNS.
type Needs struct {
	DynamoDB map[Need]bool
	// Methods are the store methods reached ("CodeStore.Apply").
	Methods []string
	// SMS: the code publishes through SNS (to phone numbers only; a
	// topic in the input is a problem).
	SMS bool
	// Problems are what the analysis could not account for.
	Problems []string
}

// Needs finds what function name's code needs.
func (p *Program) Needs(name string) (*Needs, error) {
	g, err := p.reach(name)
	if err != nil {
		return nil, err
	}
	out := &Needs{DynamoDB: map[Need]bool{}}
	stores := map[string]bool{} // store types whose methods are reached
	listed := map[string]bool{}
	for f := range g.reached {
		if m := methodName(outer(f), dynamoPkg); m != "" {
			if _, ok := dynamo.Accesses[m]; ok {
				if f == outer(f) {
					listed[m] = true
				}
			} else if callsDynamoDB(f) {
				out.Problems = append(out.Problems, fmt.Sprintf("%s calls DynamoDB and is not in dynamo.Accesses", m))
			}
			continue
		}
		inModule := f.Pkg != nil && strings.HasPrefix(f.Pkg.Pkg.Path(), Module+"/")
		if inModule && f.Pkg.Pkg.Path() != dynamoPkg && callsDynamoDB(f) && !callsListed(f) {
			out.Problems = append(out.Problems, fmt.Sprintf("%s calls DynamoDB itself, with no input from a store method of dynamo.Accesses", f))
		}
		if publishesSNS(f) {
			out.SMS = true
		}
		if f.Pkg != nil && strings.HasPrefix(f.Pkg.Pkg.Path(), Module+"/") {
			for _, fld := range []string{"TopicArn", "TargetArn"} {
				if storesField(f, "github.com/aws/aws-sdk-go-v2/service/sns.PublishInput."+fld) {
					out.Problems = append(out.Problems, fmt.Sprintf("%s sets sns.PublishInput.%s: only SMS to phone numbers is granted", f, fld))
				}
			}
		}
	}
	for m := range listed {
		out.Methods = append(out.Methods, m)
		stores[strings.SplitN(m, ".", 2)[0]] = true
	}
	sort.Strings(out.Methods)
	heads := map[string][]head{}
	for store := range stores {
		ck, ok := callerKeys[store]
		if !ok {
			continue
		}
		hs, probs := g.callerHeads(ck.fields, ck.params)
		out.Problems = append(out.Problems, probs...)
		if len(hs) == 0 {
			out.Problems = append(out.Problems, fmt.Sprintf("%s is reached but no key it is given could be found", store))
		}
		heads[store] = hs
	}
	for _, m := range out.Methods {
		store := strings.SplitN(m, ".", 2)[0]
		for _, a := range dynamo.Accesses[m] {
			if !strings.Contains(a.Prefix, dynamo.CallerKey) {
				out.DynamoDB[Need{a.Action, a.Index, a.Prefix}] = true
				continue
			}
			before, _, _ := strings.Cut(a.Prefix, dynamo.CallerKey)
			for _, h := range heads[store] {
				prefix := before + h.text
				if h.whole {
					prefix += callerKeys[store].suffix
				}
				out.DynamoDB[Need{a.Action, a.Index, prefix}] = true
			}
		}
	}
	sort.Strings(out.Problems)
	return out, nil
}

// head is how a key starts: the whole key, or its first part.
type head struct {
	text  string
	whole bool
}

// callerHeads are the starts of every value reachable code puts in the
// fields, or passes as the parameters.
func (g *graph) callerHeads(fields, params []string) ([]head, []string) {
	seen := map[head]bool{}
	var problems []string
	collect := func(v ssa.Value, where string) {
		hs, ok := g.heads(v, 0)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: a key whose start is not a constant the analysis can read (%s)", where, v))
		}
		for _, h := range hs {
			seen[h] = true
		}
	}
	for f := range g.reached {
		if f.Pkg == nil || !strings.HasPrefix(f.Pkg.Pkg.Path(), Module+"/") {
			continue
		}
		for _, b := range f.Blocks {
			for _, instr := range b.Instrs {
				st, ok := instr.(*ssa.Store)
				if !ok {
					continue
				}
				fa, ok := st.Addr.(*ssa.FieldAddr)
				if !ok {
					continue
				}
				for _, want := range fields {
					if fieldName(fa) == want {
						collect(st.Val, f.String())
					}
				}
			}
		}
		for _, want := range params {
			parts := strings.Split(want, ".")
			if methodName(f, dynamoPkg) != parts[0]+"."+parts[1] {
				continue
			}
			for i, prm := range f.Params {
				if prm.Name() != parts[2] {
					continue
				}
				for _, s := range g.callers[f] {
					arg := argFor(s.call, i)
					if arg != nil {
						collect(arg, s.caller.String())
					}
				}
			}
		}
	}
	var out []head
	for h := range seen {
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].text < out[j].text })
	return out, problems
}

// argFor is the argument a call passes for the callee's i-th parameter
// (the receiver first, for methods).
func argFor(c *ssa.CallCommon, i int) ssa.Value {
	if c.IsInvoke() {
		i-- // the receiver is c.Value
		if i < 0 {
			return nil
		}
	}
	if i >= len(c.Args) {
		return nil
	}
	return c.Args[i]
}

// heads follows a string value back to the constants it starts with: a
// constant, a concatenation's left side, either side of a choice (a phi),
// a parameter's arguments at every reached call, what a called function
// returns. ok is false for anything else (a value read from a field, a
// formatted string): the key's family cannot be told.
func (g *graph) heads(v ssa.Value, depth int) (out []head, ok bool) {
	if depth > 12 {
		return nil, false
	}
	switch x := v.(type) {
	case *ssa.Const:
		if x.Value == nil || x.Value.Kind() != constant.String {
			return nil, false
		}
		return []head{{text: constant.StringVal(x.Value), whole: true}}, true
	case *ssa.BinOp:
		if x.Op != token.ADD {
			return nil, false
		}
		hs, ok := g.heads(x.X, depth+1)
		for i := range hs {
			if hs[i].whole {
				// "a:" + x: the start is the constant, no longer whole.
				hs[i].whole = false
			}
		}
		return hs, ok
	case *ssa.Phi:
		ok := true
		for _, e := range x.Edges {
			hs, eok := g.heads(e, depth+1)
			out = append(out, hs...)
			ok = ok && eok
		}
		return out, ok
	case *ssa.Parameter:
		f := x.Parent()
		idx := -1
		for i, p := range f.Params {
			if p == x {
				idx = i
			}
		}
		ok := true
		for _, s := range g.callers[f] {
			if arg := argFor(s.call, idx); arg != nil {
				hs, aok := g.heads(arg, depth+1)
				out = append(out, hs...)
				ok = ok && aok
			}
		}
		return out, ok
	case *ssa.UnOp:
		if x.Op != token.MUL {
			return nil, false
		}
		return g.loaded(x.X, depth)
	case *ssa.Field:
		// A field of a struct value: whatever reached code stores there.
		return g.fieldHeads(fieldOf(x.X.Type(), x.Field), depth)
	case *ssa.Call:
		callee := x.Call.StaticCallee()
		if callee == nil || callee.Pkg == nil || !strings.HasPrefix(callee.Pkg.Pkg.Path(), Module+"/") {
			return nil, false
		}
		ok := true
		for _, b := range callee.Blocks {
			if r, isRet := b.Instrs[len(b.Instrs)-1].(*ssa.Return); isRet && len(r.Results) == 1 {
				hs, rok := g.heads(r.Results[0], depth+1)
				out = append(out, hs...)
				ok = ok && rok
			}
		}
		return out, ok
	}
	return nil, false
}

// loaded follows what a load reads: a field (whatever reached code
// stores in it), a variable a closure shares with its parent (whatever is
// stored in it).
func (g *graph) loaded(addr ssa.Value, depth int) (out []head, ok bool) {
	switch a := addr.(type) {
	case *ssa.FieldAddr:
		return g.fieldHeads(fieldName(a), depth)
	case *ssa.FreeVar:
		f := a.Parent()
		idx := -1
		for i, fv := range f.FreeVars {
			if fv == a {
				idx = i
			}
		}
		ok := true
		for caller := range g.reached {
			for _, b := range caller.Blocks {
				for _, instr := range b.Instrs {
					if mc, isMC := instr.(*ssa.MakeClosure); isMC && mc.Fn == f && idx >= 0 && idx < len(mc.Bindings) {
						hs, bok := g.loaded(mc.Bindings[idx], depth+1)
						out = append(out, hs...)
						ok = ok && bok
					}
				}
			}
		}
		return out, ok
	case *ssa.Alloc:
		ok := true
		for _, r := range *a.Referrers() {
			if st, isStore := r.(*ssa.Store); isStore && st.Addr == a {
				hs, sok := g.heads(st.Val, depth+1)
				out = append(out, hs...)
				ok = ok && sok
			}
		}
		return out, ok
	}
	return nil, false
}

// fieldHeads are the starts of whatever reached code of this module
// stores in a field ("package path.Type.Field"); none is no key, not a
// problem.
func (g *graph) fieldHeads(name string, depth int) (out []head, ok bool) {
	if name == "" {
		return nil, false
	}
	if g.inField[name] {
		return nil, true // a copy of the field into itself adds nothing
	}
	g.inField[name] = true
	defer delete(g.inField, name)
	ok = true
	for f := range g.reached {
		if f.Pkg == nil || !strings.HasPrefix(f.Pkg.Pkg.Path(), Module+"/") {
			continue
		}
		for _, b := range f.Blocks {
			for _, instr := range b.Instrs {
				if st, isStore := instr.(*ssa.Store); isStore {
					if fa, isFA := st.Addr.(*ssa.FieldAddr); isFA && fieldName(fa) == name {
						hs, sok := g.heads(st.Val, depth+1)
						out = append(out, hs...)
						ok = ok && sok
					}
				}
			}
		}
	}
	return out, ok
}

// fieldName is "package path.Type.Field" of a field address.
func fieldName(fa *ssa.FieldAddr) string {
	t := fa.X.Type()
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	return fieldOf(t, fa.Field)
}

// fieldOf is "package path.Type.Field" of field i of struct type t.
func fieldOf(t types.Type, i int) string {
	n, ok := t.(*types.Named)
	if !ok {
		return ""
	}
	st, ok := n.Underlying().(*types.Struct)
	if !ok || n.Obj().Pkg() == nil {
		return ""
	}
	return n.Obj().Pkg().Path() + "." + n.Obj().Name() + "." + st.Field(i).Name()
}

func storesField(f *ssa.Function, want string) bool {
	for _, b := range f.Blocks {
		for _, instr := range b.Instrs {
			if st, ok := instr.(*ssa.Store); ok {
				if fa, ok := st.Addr.(*ssa.FieldAddr); ok && fieldName(fa) == want {
					return true
				}
			}
		}
	}
	return false
}

// calls reports whether f calls a method named in names whose receiver
// (the client or an interface of it) comes from a package for which
// pkgOK holds.
func calls(f *ssa.Function, names map[string]bool, pkgOK func(path string) bool) bool {
	for _, b := range f.Blocks {
		for _, instr := range b.Instrs {
			c, ok := instr.(ssa.CallInstruction)
			if !ok {
				continue
			}
			common := c.Common()
			var name string
			var sig *types.Signature
			switch {
			case common.IsInvoke():
				name, sig = common.Method.Name(), common.Method.Type().(*types.Signature)
			case common.StaticCallee() != nil && common.StaticCallee().Signature.Recv() != nil:
				name, sig = common.StaticCallee().Name(), common.StaticCallee().Signature
			default:
				continue
			}
			if !names[name] || sig.Params().Len() < 2 {
				continue
			}
			// The input's type says whose API it is: *dynamodb.GetItemInput.
			in := sig.Params().At(1).Type()
			if p, ok := in.(*types.Pointer); ok {
				in = p.Elem()
			}
			if n, ok := in.(*types.Named); ok && n.Obj().Pkg() != nil && pkgOK(n.Obj().Pkg().Path()) {
				return true
			}
		}
	}
	return false
}

func callsDynamoDB(f *ssa.Function) bool {
	return calls(f, dynamoCalls, func(p string) bool { return p == "github.com/aws/aws-sdk-go-v2/service/dynamodb" })
}

func publishesSNS(f *ssa.Function) bool {
	return calls(f, map[string]bool{"Publish": true, "PublishBatch": true},
		func(p string) bool { return p == "github.com/aws/aws-sdk-go-v2/service/sns" })
}

// callsListed reports whether f calls a store method of dynamo.Accesses
// (whose input it then sends, as a caller of Stats.UpdateInputs does).
func callsListed(f *ssa.Function) bool {
	for _, b := range f.Blocks {
		for _, instr := range b.Instrs {
			if c, ok := instr.(ssa.CallInstruction); ok {
				if callee := c.Common().StaticCallee(); callee != nil {
					if _, ok := dynamo.Accesses[methodName(callee, dynamoPkg)]; ok {
						return true
					}
				}
			}
		}
	}
	return false
}
