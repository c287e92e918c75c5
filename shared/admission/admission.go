// Package admission decides, before any work is done, whether a command can
// be taken now: the queue absorbs a surge, but a wait so long that nobody
// would still be waiting is better refused at once with a time to come
// back (DOMAIN.md: in December 2025 requests timed out and people retried,
// which made it worse). It also says where a queued request stands: its
// position in line and an estimated wait.
//
// Three bounds, all configuration: the backlog, as the estimated wait of a
// new command (queue depth / worker drain rate) against MaxWait; the
// latency of the accept path itself (an exponentially weighted average of
// what the API's own work took) against MaxLatency; and the rate of
// commands taken over all function instances against MaxRate, sized to
// what the table can write. Any one passed answers 503 OVERLOADED with
// Retry-After, before the command costs anything else. The queue depth is
// read at most once per CacheFor per function instance, in the background,
// so the check costs no request any waiting in a surge; the rate is
// counted in a shared item per short window, leased a few commands at a
// time, so it costs a fraction of a write per command and, once a window's
// budget is spent, nothing more until the next window.
package admission

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pccc/pccc/shared/apperr"
)

// Depth reads how many commands wait in line.
type Depth interface {
	Depth(ctx context.Context) (int, error)
}

// Leases counts commands over all instances (dynamo.Limiter): Lease takes
// n of key's limit in the window now running, or reports it spent; count
// is what all instances have taken of it.
type Leases interface {
	Lease(ctx context.Context, key string, n, limit int, window time.Duration) (ok bool, count int, err error)
}

// DefaultRateKey and DefaultRateWindow are the rate bound's counter and
// window unless a Gate names others; the campaign workers read the same
// counter to know how fast people's commands arrive.
const (
	DefaultRateKey    = "commands"
	DefaultRateWindow = 250 * time.Millisecond
)

// Gate admits or sheds commands. Safe for concurrent use.
type Gate struct {
	Depth     Depth
	DrainRate float64       // commands per second the workers carry out
	MaxWait   time.Duration // a new command's estimated wait above this is shed
	// MaxLatency sheds when the accept path's average latency passes it;
	// 0 turns the latency bound off.
	MaxLatency time.Duration
	CacheFor   time.Duration // default 1s
	// MaxRate, with Leases, bounds the commands taken a second over all
	// instances; 0 turns the rate bound off. RateWindow is the window it
	// is counted in (default 250ms), RateKey the counter (default
	// "commands").
	Leases     Leases
	MaxRate    float64
	RateWindow time.Duration
	RateKey    string
	// LeaseWait bounds how long a command waits for a lease of the rate
	// budget while the budget is being spent, i.e. the last window's was
	// (default 20ms): past it the command is refused, so the excess is
	// told at once even when the counter is slow to answer, and the
	// lease, which goes on without it, serves the next ones. Otherwise
	// (a cold instance, light load) a command waits for its lease up to
	// coldLeaseWait, and is then taken, as when the counter cannot be
	// reached.
	LeaseWait time.Duration
	Now       func() time.Time

	mu        sync.Mutex
	depth     int
	readAt    time.Time
	sinceRead int     // commands this instance admitted since the depth read began
	admitted  int     // commands this instance admitted, ever
	reading   bool    // a background read is under way
	latency   float64 // EWMA, seconds

	// The rate window this instance is in, the commands it may still take
	// in it without asking the store, how much of the window's budget is
	// known taken (by every instance, this one's leases in flight
	// included), and what it took in this window and the last (to size
	// its next lease).
	win              int64 // window start, epoch milliseconds
	tokens           int
	known            int
	used, usedBefore int
	flight           chan struct{} // closed when the lease in flight ends
	inflight         int           // commands it asks for
	lastLease        int           // what the last lease asked for
	spentBefore      bool          // the last window's budget was spent
	arrived          int           // commands that asked in this window
	arrivedBefore    int           // and in the last
	waiting          int           // calls waiting for it
	demand           int           // calls that waited for the last one
}

// ErrOverloaded is the answer when a bound is passed; its Retry-After is
// set per answer.
const overloadedMessage = "Too many requests are waiting. Please try again later; nothing was changed."

// Admit says whether a command can be taken now and, if so, its position
// in line (1 = next).
func (g *Gate) Admit(ctx context.Context) (int, error) {
	depth, err := g.currentDepth(ctx)
	if err != nil {
		// Unknown depth: admit. Refusing everyone because a metric call
		// failed would turn a small fault into an outage.
		depth = 0
	}
	g.mu.Lock()
	// The depth read is up to CacheFor old: what this instance admitted
	// since is in line too.
	pos := depth + g.sinceRead + 1
	wait := Wait(pos, g.DrainRate)
	if g.MaxWait > 0 && wait > g.MaxWait {
		g.mu.Unlock()
		// The place it would have had, and when the line will be short
		// enough: the person is told both.
		e := overloaded(wait - g.MaxWait)
		e.Details = map[string]any{"position": pos, "estimatedWaitSeconds": int(wait.Seconds() + 0.5)}
		return 0, e
	}
	lat := time.Duration(g.latency * float64(time.Second))
	g.mu.Unlock()
	if g.MaxLatency > 0 && lat > g.MaxLatency {
		// Recovers as the calls that are let through get faster: a shed
		// call observes nothing, so decay the average a little.
		g.Observe(g.MaxLatency / 2)
		return 0, overloaded(time.Second)
	}
	if err := g.takeRate(ctx); err != nil {
		return 0, err
	}
	g.mu.Lock()
	g.sinceRead++
	g.admitted++
	g.mu.Unlock()
	return pos, nil
}

// takeRate takes one command from the rate budget: from what this
// instance leased for the window, else by leasing more.
func (g *Gate) takeRate(ctx context.Context) error {
	if g.Leases == nil || g.MaxRate <= 0 {
		return nil
	}
	window := g.RateWindow
	if window <= 0 {
		window = DefaultRateWindow
	}
	key := g.RateKey
	if key == "" {
		key = DefaultRateKey
	}
	w := window.Milliseconds()
	limit := max(1, int(math.Ceil(g.MaxRate*window.Seconds())))
	var timeout <-chan time.Time // set once, on the first wait
	cold := false                // and whether it was a cold wait
	counted := false
	for {
		start := g.now().UnixMilli() / w * w
		g.mu.Lock()
		if start != g.win {
			if start == g.win+w {
				g.usedBefore, g.spentBefore, g.arrivedBefore = g.used, g.known >= limit, g.arrived
			} else {
				g.usedBefore, g.spentBefore, g.arrivedBefore = 0, false, 0
			}
			g.win, g.tokens, g.known, g.used, g.arrived = start, 0, 0, 0, 0
			// Unless the last window's budget was spent, the new one
			// opens on credit: the lease goes out now and its commands
			// are taken at once, so a steady stream never waits for
			// the counter at a window's turn. A lease the counter
			// refuses ends the credit; it overshoots the budget by at
			// most one lease, as any lease granted under the limit may.
			if !g.spentBefore && g.usedBefore > 0 {
				g.tokens += g.lease(key, start, limit, window, true)
			}
		}
		if !counted {
			g.arrived++
			counted = true
		}
		switch {
		case g.tokens > 0:
			g.tokens--
			g.used++
			// Lease the next few before these run out, so that in a
			// steady stream no command waits for the counter.
			if g.flight == nil && g.known < limit && g.tokens <= g.lastLease/2 {
				g.lease(key, start, limit, window, false)
			}
			g.mu.Unlock()
			return nil
		case g.flight == nil && g.known >= limit:
			// Spent: refused here, with no call, so the excess is told
			// at once.
			g.mu.Unlock()
			refused.spent.Add(1)
			return overloaded(time.Second)
		case g.flight != nil && g.waiting >= g.inflight+max(0, limit-g.known):
			// Those already waiting would take what the lease in flight
			// brings and all the budget left: refused now, not after a
			// wait.
			g.mu.Unlock()
			refused.spoken.Add(1)
			return overloaded(time.Second)
		case g.flight == nil:
			g.lease(key, start, limit, window, false)
		}
		// One lease at a time per instance: wait for it (a bounded
		// while), then take from what it brought, or lease again.
		flight := g.flight
		g.waiting++
		g.mu.Unlock()
		if timeout == nil {
			wait := coldLeaseWait
			cold = !g.spentBefore
			if g.spentBefore {
				wait = g.LeaseWait
				if wait <= 0 {
					wait = 20 * time.Millisecond
				}
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			timeout = t.C
		}
		var err error
		select {
		case <-flight:
		case <-timeout:
			if cold {
				// Nothing says the budget is near: a counter this slow is
				// treated as one that cannot be reached, and the command
				// is taken (the lease in flight counts it when it lands).
				g.mu.Lock()
				g.waiting--
				g.used++
				g.tokens-- // owed to the lease in flight
				g.mu.Unlock()
				return nil
			}
			refused.slow.Add(1)
			err = overloaded(time.Second)
		case <-ctx.Done():
			err = overloaded(time.Second)
		}
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// Refusals counts, process-wide, why the rate bound refused commands: the
// window's budget known spent, spoken for by the calls already waiting,
// or the counter too slow to answer within LeaseWait. make bench reports
// them; in AWS they are one function instance's.
type Refusals struct{ Spent, SpokenFor, SlowCounter int64 }

var refused struct{ spent, spoken, slow atomic.Int64 }

// RateRefusals reports Refusals so far.
func RateRefusals() Refusals {
	return Refusals{Spent: refused.spent.Load(), SpokenFor: refused.spoken.Load(), SlowCounter: refused.slow.Load()}
}

// coldLeaseWait bounds a command's wait for a lease when the budget is
// not being spent: long enough for a cold connection to the counter.
const coldLeaseWait = 2 * time.Second

// lease asks the store, in the background, for the next few commands of
// the window, for the calls waiting and those to come; g.mu is held. What
// it brings becomes tokens for whoever comes next, unless they were given
// on credit (then the caller adds them at once). It returns how many it
// asks for.
func (g *Gate) lease(key string, start int64, limit int, window time.Duration, credit bool) int {
	// About a quarter of what this instance took in the last window (at
	// most an eighth of the budget, which other instances share), or
	// enough for the calls waiting now, so a busy instance writes a few
	// times a window and an idle one holds back little; never more than
	// the budget left.
	n := max(min(max(1, g.usedBefore/4), max(1, limit/8)), g.waiting+1, g.demand)
	if g.spentBefore {
		// More asked here than the budget took last window: about half
		// of what reached this instance then, so that a slow counter
		// answers a busy instance twice a window rather than holding
		// its commands to a few per call.
		n = max(n, g.arrivedBefore/2)
	}
	n = min(n, max(1, limit-g.known))
	g.demand = 0
	g.known += n
	g.inflight, g.lastLease = n, n
	flight := make(chan struct{})
	// A lease still out for the last window lands unheeded; this one is
	// the window's.
	g.flight = flight
	go func() {
		// Detached from any one request: the lease serves whoever comes.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ok, count, err := g.Leases.Lease(ctx, key, n, limit, window)
		g.mu.Lock()
		defer g.mu.Unlock()
		defer close(flight)
		if g.flight != flight {
			return // a new window's lease took over: this one was for the old
		}
		g.flight = nil
		// Those who waited for this lease and find it short ask for
		// the rest in one.
		g.demand = g.waiting
		if g.win != start {
			return // the window turned while leasing: it was for the old one
		}
		switch {
		case err != nil:
			// The counter cannot be reached: admit, as with an unknown
			// depth.
			g.known -= n
			if !credit {
				g.tokens += n
			}
		case !ok:
			g.known = limit
			if credit {
				g.tokens = 0
			}
		default:
			g.known = max(g.known, count)
			if !credit {
				g.tokens += n
			}
		}
	}()
	return n
}

// Observe feeds the latency of one accept (the API's writes and send).
func (g *Gate) Observe(d time.Duration) {
	const alpha = 0.1
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.latency == 0 {
		g.latency = d.Seconds()
		return
	}
	g.latency = alpha*d.Seconds() + (1-alpha)*g.latency
}

// currentDepth answers from the last read. Once that is older than
// CacheFor, one caller starts a new read in the background and every call
// goes on with the old figure meanwhile: no request waits for the queue's
// attributes, except the very first.
func (g *Gate) currentDepth(ctx context.Context) (int, error) {
	if g.Depth == nil {
		return 0, nil
	}
	now := g.now()
	cache := g.CacheFor
	if cache <= 0 {
		cache = time.Second
	}
	g.mu.Lock()
	from := g.admitted
	if g.readAt.IsZero() {
		g.mu.Unlock()
		return g.refresh(ctx, now, from)
	}
	d := g.depth
	if now.Sub(g.readAt) >= cache && !g.reading {
		g.reading = true
		go func() {
			// Detached from the request: it may end before the read does.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			defer cancel()
			_, _ = g.refresh(rctx, now, from)
		}()
	}
	g.mu.Unlock()
	return d, nil
}

// refresh reads the depth. from is how many commands this instance had
// admitted when the read began: those admitted after may have reached the
// queue after the read too (a command is sent after it is admitted), so
// they stay counted beside the new figure, at worst twice for a moment.
func (g *Gate) refresh(ctx context.Context, now time.Time, from int) (int, error) {
	d, err := g.Depth.Depth(ctx)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reading = false
	if err != nil {
		return 0, err
	}
	g.depth, g.readAt, g.sinceRead = d, now, g.admitted-from
	return d, nil
}

func (g *Gate) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func overloaded(retry time.Duration) *apperr.Error {
	retry = min(max(retry, time.Second), 10*time.Minute)
	return apperr.New(apperr.Overloaded, overloadedMessage).WithRetryAfter(retry)
}

// Wait estimates how long the command at position pos waits.
func Wait(pos int, rate float64) time.Duration {
	if rate <= 0 || pos <= 0 {
		return 0
	}
	return time.Duration(float64(pos) / rate * float64(time.Second))
}

// Position estimates where a request that entered the line at pos0 at
// queuedAt stands at now, the workers having drained rate a second since.
func Position(pos0 int, queuedAt, now time.Time, rate float64) int {
	drained := int(math.Floor(now.Sub(queuedAt).Seconds() * rate))
	return max(1, pos0-drained)
}

type positionKey struct{}

// WithPosition carries an admitted command's position in line to the code
// that records it.
func WithPosition(ctx context.Context, pos int) context.Context {
	return context.WithValue(ctx, positionKey{}, pos)
}

// PositionFrom is the position WithPosition carried, or 0.
func PositionFrom(ctx context.Context) int {
	pos, _ := ctx.Value(positionKey{}).(int)
	return pos
}
