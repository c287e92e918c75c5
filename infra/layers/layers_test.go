package layers

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

// The module's packages stand on their floors: no import upward, no
// domain service importing an adapter, no AWS client on a domain floor,
// every package placed. go test -v prints the floors.
func TestFloors(t *testing.T) {
	imports, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the floors, from the top (docs/architecture.md, \"The layers\"):\n%s", Table(Floors, imports))
	for _, p := range Check(Floors, imports) {
		t.Error(p)
	}
}

// The check fails on each kind of problem: fed the module's own imports
// with one import upward added (a domain type reaching for the commands),
// and a small graph with one of each.
func TestFloorsCatchWhatBreaksThem(t *testing.T) {
	imports, err := Load(".")
	if err != nil {
		t.Fatal(err)
	}
	if problems := Check(Floors, imports); len(problems) > 0 {
		t.Fatalf("the module itself: %v", problems)
	}
	upward := maps.Clone(imports)
	upward["shared/holder"] = append(slices.Clone(imports["shared/holder"]), Module+"/shared/lifecycle")
	want := "shared/holder (domain types) imports shared/lifecycle (domain services): upward"
	if got := Check(Floors, upward); !slices.Equal(got, []string{want}) {
		t.Errorf("an upward import added to the module: %q, want %q", got, want)
	}

	floors := map[string]Floor{
		"functions/...":    API,
		"shared/codeapi":   API,
		"shared/lifecycle": DomainServices,
		"shared/dynamo":    Adapters,
		"shared/holder":    DomainTypes,
		"shared/apperr":    Foundation,
		"shared/gone":      DomainTypes,
	}
	graph := map[string][]string{
		"functions/codeissue": {Module + "/shared/codeapi"},
		"shared/codeapi":      {Module + "/shared/lifecycle", Module + "/shared/dynamo", "github.com/aws/aws-sdk-go-v2/service/sqs"},
		"shared/lifecycle":    {Module + "/shared/holder", Module + "/shared/dynamo", "github.com/aws/aws-sdk-go-v2/service/sqs"},
		"shared/dynamo":       {Module + "/shared/holder", Module + "/shared/lifecycle"},
		"shared/holder":       {Module + "/shared/apperr", Module + "/shared/codeapi"},
		"shared/apperr":       {"errors"},
		"shared/newthing":     {Module + "/shared/apperr"},
	}
	got := Check(floors, graph)
	for _, want := range []string{
		"shared/holder (domain types) imports shared/codeapi (API): upward",
		"shared/dynamo (adapters) imports shared/lifecycle (domain services): upward",
		"shared/lifecycle (domain services) imports shared/dynamo (adapters): a service is given its adapters through its ports",
		"shared/lifecycle (domain services) imports the AWS client github.com/aws/aws-sdk-go-v2/service/sqs: that is an adapter's",
		"shared/newthing has no floor: place it in layers.Floors",
		"layers.Floors places shared/gone, which is no package of the module",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing %q", want)
		}
	}
	if len(got) != 6 {
		t.Errorf("%d problems, want 6 (the API's own imports of an adapter and the SQS client are allowed):\n%s", len(got), strings.Join(got, "\n"))
	}
}

func TestFloorOf(t *testing.T) {
	floors := map[string]Floor{"infra/...": API, "infra/tools/...": Platform, "shared/holder": DomainTypes}
	for pkg, want := range map[string]Floor{"infra": API, "infra/e2e": API, "infra/tools/x": Platform, "shared/holder": DomainTypes} {
		if got, ok := FloorOf(floors, pkg); !ok || got != want {
			t.Errorf("%s: %v %v, want %v", pkg, got, ok, want)
		}
	}
	for _, pkg := range []string{"shared/holderx", "shared", "infrax"} {
		if _, ok := FloorOf(floors, pkg); ok {
			t.Errorf("%s placed", pkg)
		}
	}
}
