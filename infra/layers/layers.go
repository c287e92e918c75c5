// Package layers holds the floors the module's Go packages stand on, and
// the check that each package imports only what its floor may: the floors
// of docs/architecture.md ("The layers"), as a table the test holds the
// code to (layers_test.go), so a package that reaches upward, a domain
// service that reaches for an adapter, or a package nobody placed fails
// the build's tests instead of waiting for a reader to notice.
//
// From the top:
//
//   - API: what serves a route or builds a function, and the wiring: the
//     functions' mains, the shared/*api packages, shared/openapi, and every
//     tool and test under infra/. They make the adapters and hand them to
//     the services.
//   - Platform: what every function is built from (platform.Deps, the
//     settings): only the wiring reads it.
//   - Domain services: the rules and the work done by them, through ports
//     (interfaces) that speak domain types: the commands (lifecycle), the
//     notices, the SMS sender, admission, campaigns, the statistics'
//     export and chart.
//   - Adapters: DynamoDB, S3, SQS, SNS and the outside services over HTTP
//     (bureau, carriers), the SDK clients and the key rings. They fill the
//     services' ports, mapping their records to the domain's types; they
//     import domain types, never a service.
//   - Domain types: what the ports and the adapters share: holders and
//     their requests, codes, figures, identities and verifications, one-time
//     codes, the clearance check's and declarations' rules, API keys,
//     sessions, idempotency records; each with the pure rules over it.
//   - Foundation: what any floor may use: the error type, logs, the HTTP
//     request and response, keyed hashes, sealing, retries and breakers,
//     counting windows, the SQS batch processor every worker runs, and the
//     tests' kit.
//
// A package may import its own floor and the floors below, except that a
// domain service imports no adapter (it is given them, through its ports),
// and neither a domain service nor a domain type imports an AWS service
// client. Test files are not held to this: a test may build what it needs.
package layers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
)

// Module is the Go module's path.
const Module = "github.com/pccc/pccc"

// Floor is a floor of the code, Foundation the lowest.
type Floor int

// The floors, from the bottom.
const (
	Foundation Floor = iota
	DomainTypes
	Adapters
	DomainServices
	Platform
	API
)

func (f Floor) String() string {
	switch f {
	case Foundation:
		return "foundation"
	case DomainTypes:
		return "domain types"
	case Adapters:
		return "adapters"
	case DomainServices:
		return "domain services"
	case Platform:
		return "platform"
	case API:
		return "API"
	}
	return fmt.Sprintf("floor %d", int(f))
}

// Floors places every package of the module, by its path in the module:
// a path ending in "/..." places the folder and everything under it. A
// package missing here fails the check: whoever adds one says where it
// stands.
var Floors = map[string]Floor{
	"functions/...": API,
	"infra/...":     API,

	"shared/campaignapi":    API,
	"shared/clearanceapi":   API,
	"shared/codeapi":        API,
	"shared/declarationapi": API,
	"shared/identityapi":    API,
	"shared/openapi":        API,
	"shared/smsapi":         API,
	"shared/statsapi":       API,

	"shared/config":   Platform,
	"shared/platform": Platform,

	"shared/admission":   DomainServices,
	"shared/campaign":    DomainServices,
	"shared/lifecycle":   DomainServices,
	"shared/notify":      DomainServices,
	"shared/sms":         DomainServices,
	"shared/statschart":  DomainServices,
	"shared/statsexport": DomainServices,

	"shared/awsclient":   Adapters,
	"shared/bureau":      Adapters,
	"shared/carrier":     Adapters,
	"shared/dynamo":      Adapters,
	"shared/gateway":     Adapters,
	"shared/keyring":     Adapters,
	"shared/s3store":     Adapters,
	"shared/smsprovider": Adapters,
	"shared/sqsqueue":    Adapters,

	"shared/apikey":      DomainTypes,
	"shared/clearance":   DomainTypes,
	"shared/codes":       DomainTypes,
	"shared/declaration": DomainTypes,
	"shared/holder":      DomainTypes,
	"shared/idempotency": DomainTypes,
	// identity also carries the verification's steps (Service, PhoneStep);
	// the adapters speak its Verification and RRN, so it stands here, and
	// imports nothing above.
	"shared/identity": DomainTypes,
	"shared/otp":      DomainTypes,
	"shared/session":  DomainTypes,
	"shared/stats":    DomainTypes,

	"shared/apperr":     Foundation,
	"shared/httpapi":    Foundation,
	"shared/jsonfold":   Foundation,
	"shared/keyhash":    Foundation,
	"shared/limits":     Foundation,
	"shared/logging":    Foundation,
	"shared/resilience": Foundation,
	"shared/sealer":     Foundation,
	"shared/sqsbatch":   Foundation,
	"shared/testkit":    Foundation,
}

// awsClients is where the AWS SDK's service clients live; the domain's
// floors import none of them.
const awsClients = "github.com/aws/aws-sdk-go-v2/service/"

// FloorOf is the floor of a package (its path in the module), and whether
// Floors places it.
func FloorOf(floors map[string]Floor, pkg string) (Floor, bool) {
	key, ok := place(floors, pkg)
	return floors[key], ok
}

// place is the entry of floors that places pkg: its own, or else the
// deepest folder placed whole that holds it.
func place(floors map[string]Floor, pkg string) (string, bool) {
	if _, ok := floors[pkg]; ok && !strings.HasSuffix(pkg, "/...") {
		return pkg, true
	}
	best, found := "", false
	for p := range floors {
		dir, ok := strings.CutSuffix(p, "/...")
		if ok && (pkg == dir || strings.HasPrefix(pkg, dir+"/")) && (!found || len(p) > len(best)) {
			best, found = p, true
		}
	}
	return best, found
}

// Check holds each package's imports to its floor. imports maps each of
// the module's packages (its path in the module) to what its non-test
// files import (full import paths). It returns every problem found, sorted:
// an import upward, a domain service's import of an adapter, an AWS
// client on a domain floor, a package Floors does not place, and a place
// in Floors that no package fills.
func Check(floors map[string]Floor, imports map[string][]string) []string {
	var problems []string
	for pkg, imps := range imports {
		from, ok := FloorOf(floors, pkg)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s has no floor: place it in layers.Floors", pkg))
			continue
		}
		for _, imp := range imps {
			if (from == DomainServices || from == DomainTypes) && strings.HasPrefix(imp, awsClients) {
				problems = append(problems, fmt.Sprintf("%s (%s) imports the AWS client %s: that is an adapter's", pkg, from, imp))
			}
			dep, inModule := strings.CutPrefix(imp, Module+"/")
			if !inModule {
				continue
			}
			to, ok := FloorOf(floors, dep)
			switch {
			case !ok:
				// Reported as the imported package's own problem.
			case to > from:
				problems = append(problems, fmt.Sprintf("%s (%s) imports %s (%s): upward", pkg, from, dep, to))
			case from == DomainServices && to == Adapters:
				problems = append(problems, fmt.Sprintf("%s (%s) imports %s (%s): a service is given its adapters through its ports", pkg, from, dep, to))
			}
		}
	}
	used := map[string]bool{}
	for pkg := range imports {
		if key, ok := place(floors, pkg); ok {
			used[key] = true
		}
	}
	for p := range floors {
		if !used[p] {
			problems = append(problems, fmt.Sprintf("layers.Floors places %s, which is no package of the module", p))
		}
	}
	slices.Sort(problems)
	return problems
}

// Load lists the module's packages and what their non-test files import,
// with go list, from dir (any folder of the module).
func Load(dir string) (map[string][]string, error) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Error", Module+"/...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w: %s", err, stderr.String())
	}
	imports := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			Error      *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list: %w", err)
		}
		if p.Error != nil {
			return nil, fmt.Errorf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		pkg, ok := strings.CutPrefix(p.ImportPath, Module+"/")
		if !ok {
			continue // the module's root has no package
		}
		imports[pkg] = p.Imports
	}
	return imports, nil
}

// Table is the floors from the top, each with the packages on it
// (folders placed whole shown once, with how many packages they hold).
func Table(floors map[string]Floor, imports map[string][]string) string {
	on := map[Floor][]string{}
	trees := map[string]int{}
	for pkg := range imports {
		key, ok := place(floors, pkg)
		switch {
		case !ok:
		case key == pkg:
			on[floors[key]] = append(on[floors[key]], pkg)
		default:
			trees[key]++
		}
	}
	for p, n := range trees {
		on[floors[p]] = append(on[floors[p]], fmt.Sprintf("%s (%d packages)", p, n))
	}
	var b strings.Builder
	for f := API; f >= Foundation; f-- {
		slices.Sort(on[f])
		fmt.Fprintf(&b, "%d %-16s %s\n", int(f), f, strings.Join(on[f], ", "))
	}
	return b.String()
}
