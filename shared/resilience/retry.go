package resilience

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Retry calls fn up to attempts times while it fails with retryable set,
// sleeping a full-jitter backoff between tries: a random duration in
// [0, min(max, base*2^try)). It never sleeps past ctx's deadline: when the
// next backoff would end after it, Retry gives up at once with the last
// error rather than wake up with no time left. The result is nil on
// success, or the last error of fn (joined with ctx's error when the
// context ended the retries).
func Retry(ctx context.Context, attempts int, base, max time.Duration, fn func(ctx context.Context) (retryable bool, err error)) error {
	return retry(ctx, attempts, base, max, fn, sleepCtx, fullJitter)
}

type sleeper func(ctx context.Context, d time.Duration) error

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func fullJitter(ceiling time.Duration) time.Duration {
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling)
}

func retry(ctx context.Context, attempts int, base, maxDelay time.Duration, fn func(context.Context) (bool, error),
	sleep sleeper, jitter func(time.Duration) time.Duration) error {
	if attempts < 1 {
		attempts = 1
	}
	var last error
	for try := 0; try < attempts; try++ {
		if err := ctx.Err(); err != nil {
			return joinCtx(last, err)
		}
		retryable, err := fn(ctx)
		if err == nil {
			return nil
		}
		last = err
		if !retryable || try == attempts-1 {
			return err
		}
		d := jitter(backoffCeiling(base, maxDelay, try))
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
			return joinCtx(last, context.DeadlineExceeded)
		}
		if err := sleep(ctx, d); err != nil {
			return joinCtx(last, err)
		}
	}
	return last
}

// backoffCeiling is min(max, base*2^try) without overflowing.
func backoffCeiling(base, maxDelay time.Duration, try int) time.Duration {
	d := base
	for i := 0; i < try && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}

func joinCtx(last, ctxErr error) error {
	if last == nil {
		return ctxErr
	}
	return errors.Join(last, ctxErr)
}
