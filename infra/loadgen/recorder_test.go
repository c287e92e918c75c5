package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// Each outcome lands in exactly one bucket, in the summary and in the
// right second of the series: offered and dropped by when they were due,
// the rest by when they ended.
func TestRecorderAccounting(t *testing.T) {
	rec := NewRecorder()
	rec.SetWindow(2 * time.Second)
	add := func(ep string, due, start, end time.Duration, res Result) {
		rec.Record(Sample{Endpoint: ep, Intended: due, Started: start, Ended: end, Result: res})
	}
	add("a", ms(100), ms(100), ms(150), Result{Status: 200})
	add("a", ms(200), ms(210), ms(1300), Result{Status: 201})                                          // ends in second 1
	add("a", ms(300), ms(300), ms(310), Result{Status: 429})                                           // throttled
	add("a", ms(400), ms(400), ms(420), Result{Status: 404})                                           // other 4xx
	add("a", ms(500), ms(500), ms(520), Result{Status: 503})                                           // shed
	add("a", ms(600), ms(600), ms(620), Result{Status: 500})                                           // other 5xx
	add("a", ms(700), ms(700), ms(701), Result{Status: 302})                                           // other
	add("a", ms(800), ms(800), ms(801), Result{Err: errors.New("refused")})                            // error
	add("a", ms(900), ms(900), ms(1900), Result{Timeout: true})                                        // timeout
	add("a", ms(950), ms(950), ms(1950), Result{Err: fmt.Errorf("get: %w", context.DeadlineExceeded)}) // timeout too
	rec.Record(Sample{Endpoint: "a", Intended: ms(1500), Started: ms(1500), Dropped: true})
	add("b", ms(1100), ms(1100), ms(1200), Result{Status: 200})

	sum := rec.Summary()
	if len(sum) != 2 || sum[0].Endpoint != "a" || sum[1].Endpoint != "b" {
		t.Fatalf("summary endpoints %+v", sum)
	}
	a := sum[0]
	if a.Offered != 11 || a.Completed != 7 || a.Errors != 1 || a.Timeouts != 2 || a.Dropped != 1 {
		t.Errorf("a: offered %d completed %d errors %d timeouts %d dropped %d, want 11 7 1 2 1",
			a.Offered, a.Completed, a.Errors, a.Timeouts, a.Dropped)
	}
	if a.Offered != a.Completed+a.Errors+a.Timeouts+a.Dropped {
		t.Error("offered is not the sum of the outcomes")
	}
	for st, n := range map[int]int64{200: 1, 201: 1, 429: 1, 404: 1, 503: 1, 500: 1, 302: 1} {
		if a.ByStatus[st] != n {
			t.Errorf("a.ByStatus[%d] = %d, want %d", st, a.ByStatus[st], n)
		}
	}
	if a.OfferedRate != 5.5 || a.AchievedRate != 3.5 || a.Goodput != 1 {
		t.Errorf("rates offered %v achieved %v goodput %v, want 5.5 3.5 1", a.OfferedRate, a.AchievedRate, a.Goodput)
	}
	// Latency covers responses and timeouts, not the error; the slowest
	// is the 201, due at 200ms and ended at 1.3s.
	if a.Max != ms(1100) {
		t.Errorf("max latency %v, want 1.1s", a.Max)
	}
	if a.Lag.Max != ms(10) {
		t.Errorf("max lag %v, want 10ms", a.Lag.Max)
	}
	if a.Service.Max != ms(1090) {
		t.Errorf("max service latency %v, want 1.09s", a.Service.Max)
	}
	// Split by answer: the 200 (50ms) and 201 (1.1s); the 429 and 503
	// (10 and 20ms); the 404, 500 and 302 in neither.
	if a.OK.Max != ms(1100) || a.OK.P50 > ms(51) {
		t.Errorf("2xx latency %+v, want p50 50ms, max 1.1s", a.OK)
	}
	if a.Refused.Max != ms(20) || a.Refused.P50 > ms(11) {
		t.Errorf("refusal latency %+v, want p50 10ms, max 20ms", a.Refused)
	}

	tot := rec.Total()
	if tot.Endpoint != AllEndpoints || tot.Offered != 12 || tot.Completed != 8 || tot.ByStatus[200] != 2 {
		t.Errorf("total %+v", tot)
	}

	series := rec.Series()
	if len(series) != 4 { // seconds 0 and 1, endpoints a and b
		t.Fatalf("series has %d rows, want 4: %+v", len(series), series)
	}
	want := []Second{
		{Offset: 0, Endpoint: "a", Offered: 10, Completed: 6, Status2xx: 1, Status4xx: 1, Status429: 1, Status503: 1, Status5xx: 1, StatusOther: 1, Errors: 1},
		{Offset: 0, Endpoint: "b"},
		{Offset: time.Second, Endpoint: "a", Offered: 1, Completed: 1, Status2xx: 1, Timeouts: 2, Dropped: 1},
		{Offset: time.Second, Endpoint: "b", Offered: 1, Completed: 1, Status2xx: 1},
	}
	for i := range want {
		if series[i] != want[i] {
			t.Errorf("series[%d] =\n %+v, want\n %+v", i, series[i], want[i])
		}
	}
}

// Without a window, rates are over the seconds seen.
func TestRecorderDefaultWindow(t *testing.T) {
	rec := NewRecorder()
	for i := range 30 {
		d := time.Duration(i) * 100 * time.Millisecond // 0 .. 2.9s
		rec.Record(Sample{Endpoint: "x", Intended: d, Started: d, Ended: d, Result: Result{Status: 200}})
	}
	if got := rec.Summary()[0].OfferedRate; got != 10 {
		t.Errorf("offered rate %v, want 10 (30 over 3 seconds)", got)
	}
	if got := NewRecorder().Total(); got.OfferedRate != 0 || got.P99 != 0 {
		t.Errorf("empty recorder total %+v", got)
	}
}

// Many goroutines record while others read; run under -race. Nothing is
// lost.
func TestRecorderConcurrent(t *testing.T) {
	rec := NewRecorder()
	const writers, each = 8, 2000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = rec.Summary()
				_ = rec.Series()
				_ = rec.Total()
			}
		}()
	}
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ep := fmt.Sprintf("ep%d", w%3)
			for i := range each {
				d := time.Duration(i) * time.Millisecond
				s := Sample{Seq: i, Endpoint: ep, Intended: d, Started: d, Ended: d + ms(5), Result: Result{Status: 200}}
				if i%10 == 0 {
					s.Dropped = true
				}
				rec.Record(s)
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	tot := rec.Total()
	if tot.Offered != writers*each || tot.Dropped != writers*each/10 || tot.Completed != writers*each*9/10 {
		t.Errorf("total offered %d dropped %d completed %d", tot.Offered, tot.Dropped, tot.Completed)
	}
	var offered int64
	for _, s := range rec.Series() {
		offered += s.Offered
	}
	if offered != writers*each {
		t.Errorf("series offered %d, want %d", offered, writers*each)
	}
}
