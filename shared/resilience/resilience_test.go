package resilience

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBreakerOpensHalfOpensAndCloses(t *testing.T) {
	now := time.Unix(0, 0)
	b := NewBreaker(3, 10*time.Second)
	b.Now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if ok, _ := b.Allow(); !ok {
			t.Fatalf("call %d refused while closed", i)
		}
		b.Record(false)
	}
	ok, wait := b.Allow()
	if ok || wait != 10*time.Second {
		t.Fatalf("open breaker: ok=%v wait=%v", ok, wait)
	}
	now = now.Add(4 * time.Second)
	if ok, wait := b.Allow(); ok || wait != 6*time.Second {
		t.Fatalf("still open: ok=%v wait=%v", ok, wait)
	}
	now = now.Add(6 * time.Second)
	if ok, _ := b.Allow(); !ok {
		t.Fatal("half-open breaker refused the trial")
	}
	if ok, _ := b.Allow(); ok {
		t.Fatal("half-open breaker let a second call through")
	}
	b.Record(false)
	if ok, _ := b.Allow(); ok {
		t.Fatal("failed trial must reopen the breaker")
	}
	now = now.Add(10 * time.Second)
	if ok, _ := b.Allow(); !ok {
		t.Fatal("second trial refused")
	}
	b.Record(true)
	for i := 0; i < 5; i++ {
		if ok, _ := b.Allow(); !ok {
			t.Fatal("closed breaker refused")
		}
	}
}

func TestRetry(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name      string
		results   []error
		retryable bool
		attempts  int
		wantCalls int
		wantErr   error
	}{
		{"first succeeds", []error{nil}, true, 3, 1, nil},
		{"second succeeds", []error{boom, nil}, true, 3, 2, nil},
		{"all fail", []error{boom, boom, boom}, true, 3, 3, boom},
		{"not retryable", []error{boom, nil}, false, 3, 1, boom},
	}
	for _, tt := range tests {
		calls := 0
		err := Retry(context.Background(), tt.attempts, time.Millisecond, 5*time.Millisecond, func(context.Context) (bool, error) {
			err := tt.results[calls]
			calls++
			return tt.retryable, err
		})
		if calls != tt.wantCalls || !errors.Is(err, tt.wantErr) && !(err == nil && tt.wantErr == nil) {
			t.Errorf("%s: calls=%d err=%v", tt.name, calls, err)
		}
	}
}

func TestRetryStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	calls := 0
	_ = Retry(ctx, 100, time.Second, time.Second, func(context.Context) (bool, error) {
		calls++
		return true, errors.New("down")
	})
	if time.Since(start) > time.Second || calls > 2 {
		t.Fatalf("retry ignored the context: %d calls in %v", calls, time.Since(start))
	}
}
