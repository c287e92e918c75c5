package loadgen

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// exactQuantile uses the histogram's definition: the sample of rank
// ceil(q*n).
func exactQuantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}

func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() time.Duration{
		"constant": func() time.Duration { return 5 * time.Millisecond },
		"uniform": func() time.Duration {
			return time.Millisecond + time.Duration(rng.Int64N(int64(99*time.Millisecond)))
		},
		"bimodal": func() time.Duration {
			if rng.IntN(10) < 7 { // fast path: around 2ms
				return 2*time.Millisecond + time.Duration(rng.NormFloat64()*float64(200*time.Microsecond))
			}
			return 800*time.Millisecond + time.Duration(rng.NormFloat64()*float64(50*time.Millisecond))
		},
		"wide": func() time.Duration { // 10µs .. 120s, log-uniform
			return time.Duration(math.Exp(rng.Float64()*math.Log(12e6)) * float64(10*time.Microsecond))
		},
	}
	for name, draw := range dists {
		t.Run(name, func(t *testing.T) {
			var h Histogram
			samples := make([]time.Duration, 200000)
			for i := range samples {
				samples[i] = draw()
				h.Record(samples[i])
			}
			slices.Sort(samples)
			if h.Count() != int64(len(samples)) {
				t.Fatalf("count %d, want %d", h.Count(), len(samples))
			}
			for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.69, 0.71, 0.9, 0.95, 0.99, 0.999, 1} {
				got, want := h.Quantile(q), exactQuantile(samples, q)
				if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.02 {
					t.Errorf("q%v = %v, want %v (off by %.2f%%)", q, got, want, rel*100)
				}
			}
			if h.Min() != samples[0] || h.Max() != samples[len(samples)-1] {
				t.Errorf("min/max %v/%v, want exact %v/%v", h.Min(), h.Max(), samples[0], samples[len(samples)-1])
			}
		})
	}
}

// A constant distribution is reported exactly: min and max pin it.
func TestHistogramConstantIsExact(t *testing.T) {
	var h Histogram
	for range 1000 {
		h.Record(1234567 * time.Nanosecond)
	}
	for _, q := range []float64{0, 0.5, 0.99, 1} {
		if got := h.Quantile(q); got != 1234567*time.Nanosecond {
			t.Errorf("q%v = %v, want 1.234567ms", q, got)
		}
	}
	if h.Mean() != 1234567*time.Nanosecond {
		t.Errorf("mean %v", h.Mean())
	}
}

// Every value from 10µs to 120s lands in a bucket whose reported midpoint
// is within 1% of it, and the bucket functions invert each other.
func TestHistogramResolution(t *testing.T) {
	for v := int64(10 * time.Microsecond); v <= int64(120*time.Second); v = v*101/100 + 7 {
		i := bucketOf(v)
		lo, w := bucketRange(i)
		if v < lo || v >= lo+w {
			t.Fatalf("%d ns in bucket %d = [%d, %d)", v, i, lo, lo+w)
		}
		mid := lo + (w-1)/2
		if rel := math.Abs(float64(mid-v)) / float64(v); rel > 0.01 {
			t.Fatalf("%d ns reported as %d, %.2f%% off", v, mid, rel*100)
		}
	}
	if bucketOf(math.MaxInt64) != numBuckets-1 {
		t.Errorf("huge value in bucket %d, want the top one %d", bucketOf(math.MaxInt64), numBuckets-1)
	}
	for i := 1; i < numBuckets; i++ { // buckets tile the range without gaps
		plo, pw := bucketRange(i - 1)
		lo, _ := bucketRange(i)
		if plo+pw != lo {
			t.Fatalf("bucket %d ends at %d but bucket %d starts at %d", i-1, plo+pw, i, lo)
		}
	}
}

func TestHistogramEdges(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Error("empty histogram is not all zeros")
	}
	h.Record(-time.Second) // a clock step backwards is not a negative latency
	if h.Min() != 0 {
		t.Errorf("negative sample recorded as %v, want 0", h.Min())
	}
	h.Record(10 * time.Minute) // beyond the tracked range: Max stays exact
	if h.Max() != 10*time.Minute || h.Quantile(1) != 10*time.Minute {
		t.Errorf("max %v, want 10m", h.Max())
	}

	var a, b Histogram
	for i := range 100 {
		a.Record(time.Duration(i) * time.Millisecond)
		b.Record(time.Duration(i+100) * time.Millisecond)
	}
	a.Merge(&b)
	if a.Count() != 200 || a.Min() != 0 || a.Max() != 199*time.Millisecond {
		t.Errorf("merged: n=%d min=%v max=%v", a.Count(), a.Min(), a.Max())
	}
	if got := a.Quantile(0.5); math.Abs(float64(got-99*time.Millisecond)) > 0.01*float64(99*time.Millisecond) {
		t.Errorf("merged median %v, want ~99ms", got)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	var h Histogram
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i%100000) * time.Microsecond)
	}
}
