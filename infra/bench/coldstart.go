package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pccc/pccc/infra/lambdabin"
	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
)

// ColdStart is one function's built bootstrap: its size and how long its
// cold start takes, exec to the first GET /runtime/invocation/next, over
// Runs starts, and its first event.
type ColdStart struct {
	LogicalID, Name string
	MemoryMB        int   // template.yaml's MemorySize
	Bytes           int64 // the bootstrap's size
	Inits           []time.Duration
	// PeakRSS is the largest resident set over the starts, read when
	// the cold start ended.
	PeakRSS int64
}

// Median of the cold starts.
func (c ColdStart) Median() time.Duration { return quantile(c.Inits, 0.5) }

// Max of the cold starts.
func (c ColdStart) Max() time.Duration { return quantile(c.Inits, 1) }

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s)-1) + 0.5)
	return s[i]
}

// MeasureColdStarts builds the template's functions as Lambda gets them
// (lambdabin.Build, for this machine's architecture) and starts each runs
// times, one at a time, under a Runtime API, with the environment the
// template gives it against a local stack of kind (the local runner's
// resolution of template.yaml). only, when not empty, names the function
// folders to measure.
func MeasureColdStarts(ctx context.Context, templatePath string, kind localstack.Kind, only []string, runs int) ([]ColdStart, error) {
	root, err := filepath.Abs(filepath.Dir(templatePath))
	if err != nil {
		return nil, err
	}
	stack, err := localstack.Start(ctx, kind, localstack.Options{Nice: EmulatorNice})
	if err != nil {
		return nil, err
	}
	defer stack.Close()
	run, err := localrun.New(ctx, localrun.Options{
		TemplatePath: templatePath, Addr: "127.0.0.1:0", Stack: stack,
		NamePrefix: "coldstart-", NoPollers: true, NoSchedules: true,
	})
	if err != nil {
		return nil, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = run.Close(cctx)
	}()
	var names []string
	for _, f := range run.Template().Functions {
		if len(only) == 0 || slices.Contains(only, f.Name()) {
			names = append(names, f.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no function of the template is named by %s", strings.Join(only, ","))
	}
	dir, err := os.MkdirTemp("", "pccc-coldstart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bins, err := lambdabin.Build(ctx, root, dir, names)
	if err != nil {
		return nil, err
	}
	var out []ColdStart
	for _, f := range run.Template().Functions {
		bin, ok := bins[f.Name()]
		if !ok {
			continue
		}
		env, _ := run.FunctionEnv(f.LogicalID)
		for _, kv := range append(stack.Env(), lambdabin.BaseEnv(dir)...) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		st, err := os.Stat(bin)
		if err != nil {
			return nil, err
		}
		c := ColdStart{LogicalID: f.LogicalID, Name: f.Name(), MemoryMB: f.MemorySize, Bytes: st.Size()}
		for range runs {
			d, rss, err := coldStart(ctx, bin, lambdabin.EnvList(env))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.LogicalID, err)
			}
			c.Inits = append(c.Inits, d)
			c.PeakRSS = max(c.PeakRSS, rss)
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func coldStart(ctx context.Context, bin string, env []string) (time.Duration, int64, error) {
	p, err := lambdabin.Start(bin, env, io.Discard)
	if err != nil {
		return 0, 0, err
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	d, err := p.WaitReady(ctx)
	if err != nil {
		return 0, 0, err
	}
	return d, p.PeakRSS(), nil
}

// WriteColdStarts writes the cold start table.
func WriteColdStarts(w io.Writer, cs []ColdStart) {
	if len(cs) == 0 {
		return
	}
	fmt.Fprintf(w, "Each function built as Lambda gets it (`-tags lambda.norpc -trimpath -ldflags=\"-s -w\"`, `CGO_ENABLED=0`; for this machine's architecture, where Lambda's is arm64), started %d times, one at a time, under a Runtime API of the bench's own with the environment template.yaml gives it against the local stack: init is exec to the first `GET /runtime/invocation/next`; peak RSS is the resident set when init ended. The cold start here has nothing of Lambda's own (fetching the code, starting the microVM), which comes on top.\n\n", len(cs[0].Inits))
	fmt.Fprintln(w, "| function | folder | bootstrap | init median | init max | peak RSS | MemorySize |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|")
	for _, c := range cs {
		fmt.Fprintf(w, "| %s | `%s` | %.1f MiB | %s ms | %s ms | %.1f MiB | %d MB |\n", c.LogicalID, c.Name,
			float64(c.Bytes)/(1<<20), ms(c.Median()), ms(c.Max()), float64(c.PeakRSS)/(1<<20), c.MemoryMB)
	}
}
