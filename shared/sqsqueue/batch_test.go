package sqsqueue

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// flaky takes a call and refuses every other entry of it the first time
// it sees that body (a 200 with Failed entries).
type flaky struct {
	seen  map[string]int
	calls [][]string
	taken []string
}

func (f *flaky) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out := &sqs.SendMessageBatchOutput{}
	var bodies []string
	for i, e := range in.Entries {
		b := aws.ToString(e.MessageBody)
		bodies = append(bodies, b)
		f.seen[b]++
		if i%2 == 1 && f.seen[b] == 1 {
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError")})
			continue
		}
		f.taken = append(f.taken, b)
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
	}
	f.calls = append(f.calls, bodies)
	return out, nil
}

func TestSendBatchRetriesOnlyTheFailedEntries(t *testing.T) {
	f := &flaky{seen: map[string]int{}}
	var bodies []string
	for i := range 23 {
		bodies = append(bodies, string(rune('a'+i)))
	}
	if err := SendBatch(context.Background(), f, "q", bodies, 0); err != nil {
		t.Fatal(err)
	}
	if len(f.taken) != 23 {
		t.Fatalf("%d taken of 23", len(f.taken))
	}
	for b, n := range f.seen {
		if n > 2 {
			t.Errorf("%s sent %d times", b, n)
		}
	}
	for _, c := range f.calls {
		if len(c) > MaxBatch {
			t.Errorf("a call of %d entries", len(c))
		}
	}
	// 3 groups, each once whole and once for its refused entries.
	if len(f.calls) != 6 || len(f.calls[1]) != 5 {
		t.Errorf("calls %v", f.calls)
	}
}
