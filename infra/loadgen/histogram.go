package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// The histogram is log-linear, the layout HdrHistogram popularised: each
// power of two of nanoseconds is cut into subBuckets equal slices, so a
// bucket is never wider than 1/subBuckets of the values in it. With 128
// slices that is 0.78% wide, and reporting the bucket's midpoint is within
// 0.4% of any sample in it, over the whole range from 10µs (and below:
// under 128ns every nanosecond has its own bucket) to beyond two minutes.
// Memory is fixed, 31 KiB, however many samples go in.
const (
	subBits    = 7
	subBuckets = 1 << subBits
	// Values up to 2^maxBits-1 ns (about 137s) have buckets of their own;
	// larger ones share the top bucket, though Max stays exact.
	maxBits    = 37
	maxTracked = 1<<maxBits - 1
	numBuckets = (maxBits - subBits + 1) * subBuckets
)

// Histogram counts durations in fixed memory. Its zero value is empty and
// ready to use. It is not safe for concurrent use; the Recorder guards
// its histograms with its own lock.
type Histogram struct {
	counts   [numBuckets]int64
	n        int64
	min, max time.Duration
	sum      float64 // float: a billion two-minute samples would overflow int64 nanoseconds
}

// bucketOf maps v (ns, >= 0) to its bucket. Below subBuckets a bucket per
// value; above, e is how far v must be shifted to leave subBits+1
// significant bits, and the bucket is e*subBuckets plus those bits, which
// lie in [subBuckets, 2*subBuckets), so consecutive powers of two tile the
// index space without gaps.
func bucketOf(v int64) int {
	if v < subBuckets {
		return int(v)
	}
	if v > maxTracked {
		v = maxTracked
	}
	e := bits.Len64(uint64(v)) - 1 - subBits
	return e*subBuckets + int(v>>e)
}

// bucketRange is the inverse of bucketOf: the lowest value in bucket i
// and the bucket's width.
func bucketRange(i int) (lo, width int64) {
	if i < subBuckets {
		return int64(i), 1
	}
	e := i/subBuckets - 1
	m := int64(i%subBuckets + subBuckets)
	return m << e, 1 << e
}

// Record adds one duration. Negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(int64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += float64(d)
}

// Merge adds all of o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of samples recorded.
func (h *Histogram) Count() int64 { return h.n }

// Min is the smallest sample, exactly; zero when empty.
func (h *Histogram) Min() time.Duration { return h.min }

// Max is the largest sample, exactly; zero when empty.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean is the average sample; zero when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Quantile is the q-quantile (0.5 for the median, 0.99 for p99): the
// value of the sample of rank ceil(q*n) in sorted order, to within the
// bucket's resolution. q <= 0 gives Min and q >= 1 gives Max, both exact;
// an empty histogram gives zero.
func (h *Histogram) Quantile(q float64) time.Duration {
	switch {
	case h.n == 0:
		return 0
	case q <= 0 || math.IsNaN(q):
		return h.min
	case q >= 1:
		return h.max
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen < rank {
			continue
		}
		lo, w := bucketRange(i)
		v := time.Duration(lo + (w-1)/2)
		// The true value is within [min, max]; clamping makes a constant
		// distribution (or the extreme buckets) report exact values.
		return min(max(v, h.min), h.max)
	}
	return h.max
}
