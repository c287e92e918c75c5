package localrun

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestConcurrentInvocationsKeepTheirAnswers: many invocations of one
// function at once each get their own answer, as API calls in flight
// together must. (One shared lambda.Handler swapped answers between them:
// a holder was handed another holder's request id.)
func TestConcurrentInvocationsKeepTheirAnswers(t *testing.T) {
	echo := func(_ context.Context, in map[string]string) (map[string]string, error) {
		runtime.Gosched() // let the others interleave
		return map[string]string{"echo": in["id"]}, nil
	}
	f := &function{id: "Echo", timeout: 10 * time.Second, handlers: handlerPool(echo)}
	const callers, calls = 16, 300
	var wg sync.WaitGroup
	var mu sync.Mutex
	wrong := 0
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				id := fmt.Sprintf("caller-%02d-call-%03d", c, i)
				out, err := f.invoke(context.Background(), []byte(`{"id":"`+id+`"}`))
				if err != nil {
					t.Error(err)
					return
				}
				runtime.Gosched() // an answer read a moment later must still be ours
				if want := `{"echo":"` + id + `"}`; string(out) != want {
					mu.Lock()
					if wrong++; wrong <= 3 {
						t.Errorf("invocation %s answered %s", id, out)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if wrong > 0 {
		t.Fatalf("%d of %d concurrent invocations got another's answer", wrong, callers*calls)
	}
}
