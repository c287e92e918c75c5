package clearanceapi

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// fakeFlags keeps flags as dynamo.CheckStore does.
type fakeFlags struct {
	count    map[string]int64
	notified map[string]bool
	err      error
}

func (f *fakeFlags) Flag(_ context.Context, code, day string, count int64, _ time.Time) (bool, error) {
	if f.err != nil {
		return false, f.err
	}
	k := code + "#" + day
	if count > f.count[k] {
		f.count[k] = count
	}
	return f.notified[k], nil
}

func (f *fakeFlags) MarkNotified(_ context.Context, code, day string, _ time.Time) error {
	f.notified[code+"#"+day] = true
	return nil
}

type fakeMismatchNotifier struct {
	sent []string
	err  error
}

func (f *fakeMismatchNotifier) RepeatedMismatches(_ context.Context, hk, phone, code, day string) error {
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, fmt.Sprintf("%s|%s|%s|%s", hk, phone, code, day))
	return nil
}

// Below the threshold nothing happens; at it the code is flagged and the
// holder told; past it the flag's count grows and the holder is not told
// again that day; the next day starts over. An unknown code takes the
// same path (queued for nobody).
func TestRepeatWatcherThreshold(t *testing.T) {
	ctx := context.Background()
	flags := &fakeFlags{count: map[string]int64{}, notified: map[string]bool{}}
	n := &fakeMismatchNotifier{}
	w := &RepeatWatcher{Threshold: 3, Flags: flags, Notify: n}
	const code = "P247732688745"
	for count := int64(1); count <= 7; count++ {
		if err := w.Mismatched(ctx, Mismatch{Code: code, HolderKey: "hk", Phone: "sealed", Day: "2026-12-01", Count: count}); err != nil {
			t.Fatal(err)
		}
		switch {
		case count < 3 && (len(flags.count) != 0 || len(n.sent) != 0):
			t.Fatalf("after %d mismatches: flags %v, notices %v", count, flags.count, n.sent)
		case count >= 3 && (flags.count[code+"#2026-12-01"] != count || len(n.sent) != 1):
			t.Fatalf("after %d mismatches: flags %v, notices %v", count, flags.count, n.sent)
		}
	}
	if n.sent[0] != "hk|sealed|"+code+"|2026-12-01" {
		t.Fatalf("notice %v", n.sent)
	}
	for count := int64(1); count <= 3; count++ {
		_ = w.Mismatched(ctx, Mismatch{Code: code, HolderKey: "hk", Phone: "sealed", Day: "2026-12-02", Count: count})
	}
	if len(n.sent) != 2 {
		t.Fatalf("the next day: %v", n.sent)
	}
	for count := int64(1); count <= 3; count++ {
		_ = w.Mismatched(ctx, Mismatch{Code: "P100000000005", Day: "2026-12-01", Count: count})
	}
	if len(n.sent) != 3 || n.sent[2] != "||P100000000005|2026-12-01" {
		t.Fatalf("an unknown code: %v", n.sent)
	}

	// A notice that could not be queued is tried again at the next
	// mismatch: the flag is marked only once it was.
	n.err = errors.New("sqs down")
	if err := w.Mismatched(ctx, Mismatch{Code: code, HolderKey: "hk", Day: "2026-12-03", Count: 3}); err == nil {
		t.Fatal("a failed notice was swallowed")
	}
	n.err = nil
	if err := w.Mismatched(ctx, Mismatch{Code: code, HolderKey: "hk", Day: "2026-12-03", Count: 4}); err != nil || len(n.sent) != 4 {
		t.Fatalf("the retry: %v %v", err, n.sent)
	}
	flags.err = errors.New("table down")
	if err := w.Mismatched(ctx, Mismatch{Code: code, Day: "2026-12-04", Count: 3}); err == nil {
		t.Fatal("a failed flag was swallowed")
	}
}
