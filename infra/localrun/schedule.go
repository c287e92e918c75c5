package localrun

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/samtemplate"
)

// scheduled is a template schedule with its parsed expression.
type scheduled struct {
	samtemplate.Schedule
	fn    *function
	every expression
	loc   *time.Location
}

// expression is a parsed rate(...) or cron(...).
type expression interface {
	// next returns the first firing time strictly after t.
	next(t time.Time) time.Time
}

func (r *Runner) buildSchedules() error {
	for _, f := range r.tpl.Functions {
		for _, s := range f.Schedules {
			e, err := parseExpression(s.Expression)
			if err != nil {
				return fmt.Errorf("function %s event %s: %w", f.LogicalID, s.Event, err)
			}
			loc := time.UTC
			if s.Timezone != "" {
				if loc, err = time.LoadLocation(s.Timezone); err != nil {
					return fmt.Errorf("function %s event %s: timezone: %w", f.LogicalID, s.Event, err)
				}
			}
			if s.Input != "" && !json.Valid([]byte(s.Input)) {
				return fmt.Errorf("function %s event %s: Input is not JSON", f.LogicalID, s.Event)
			}
			r.schedules[s.LogicalID] = &scheduled{Schedule: s, fn: r.functions[f.LogicalID], every: e, loc: loc}
		}
	}
	return nil
}

func (r *Runner) startSchedules() {
	for _, s := range r.schedules {
		if !s.Enabled {
			continue
		}
		r.wg.Add(1)
		r.active.Add(1)
		go func() {
			defer r.wg.Done()
			defer r.active.Add(-1)
			r.runSchedule(s)
		}()
	}
}

// runSchedule fires s at each of its times until Close. A rate counts from
// the start of the runner, as a rule counts from its creation.
func (r *Runner) runSchedule(s *scheduled) {
	at := r.now().In(s.loc)
	for {
		at = s.every.next(at)
		t := time.NewTimer(max(at.Sub(r.now()), 0))
		select {
		case <-r.bg.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if _, err := r.fire(context.Background(), s, at); err != nil {
			r.log.Error("scheduled invocation failed", "schedule", s.LogicalID, "function", s.fn.id, "err", err.Error())
		} else {
			r.log.Info("schedule fired", "schedule", s.LogicalID, "function", s.fn.id)
		}
	}
}

// fire invokes the function with the schedule's Input or with an
// EventBridge "Scheduled Event".
func (r *Runner) fire(ctx context.Context, s *scheduled, at time.Time) ([]byte, error) {
	payload := []byte(s.Input)
	if s.Input == "" {
		name := s.Name
		if name == "" {
			name = r.names.prefix + s.LogicalID
		}
		resource := "rule/" + name
		if s.Type == "ScheduleV2" {
			resource = "schedule/default/" + name
		}
		source := "aws.events"
		if s.Type == "ScheduleV2" {
			source = "aws.scheduler"
		}
		ev := events.CloudWatchEvent{
			Version:    "0",
			ID:         newUUID(),
			DetailType: "Scheduled Event",
			Source:     source,
			AccountID:  localstack.AccountID,
			Time:       at.UTC().Truncate(time.Second),
			Region:     r.stack.Region,
			Resources:  []string{r.names.arn(strings.TrimPrefix(source, "aws."), resource)},
			Detail:     json.RawMessage("{}"),
		}
		var err error
		if payload, err = json.Marshal(ev); err != nil {
			return nil, err
		}
	}
	return s.fn.invoke(ctx, payload)
}

// triggerSchedule serves POST /_local/schedules/{LogicalId}: fire now and
// answer with what the function returned.
func (r *Runner) triggerSchedule(w http.ResponseWriter, req *http.Request, id string) {
	s, ok := r.schedules[id]
	if !ok {
		known := make([]string, 0, len(r.schedules))
		for k := range r.schedules {
			known = append(known, k)
		}
		writeJSON(w, http.StatusNotFound, map[string]any{
			"error": map[string]any{"code": "NOT_FOUND", "message": "No schedule " + strconv.Quote(id) + ".", "schedules": known},
		})
		return
	}
	out, err := r.fire(context.WithoutCancel(req.Context()), s, r.now())
	if err != nil {
		r.log.Error("triggered invocation failed", "schedule", s.LogicalID, "function", s.fn.id, "err", err.Error())
		writeJSON(w, http.StatusInternalServerError, map[string]any{
			"schedule": s.LogicalID, "function": s.fn.id, "error": "the function failed; see the runner log",
		})
		return
	}
	var result json.RawMessage
	if json.Valid(out) && len(out) > 0 {
		result = out
	}
	writeJSON(w, http.StatusOK, map[string]any{"schedule": s.LogicalID, "function": s.fn.id, "result": result})
}

// parseExpression parses EventBridge schedule expressions:
//
//   - rate(N minute|minutes|hour|hours|day|days), singular exactly when N
//     is 1, as EventBridge insists;
//   - cron(minutes hours day-of-month month day-of-week year), the 6-field
//     AWS form. Minutes and hours take numbers, *, lists (0,30), ranges
//     (8-18) and steps (*/15, 0-30/10). The other four fields take only *
//     or ? (exactly one of day-of-month and day-of-week must be ?):
//     enough for "every N minutes" and "daily at HH:MM", which is what
//     pccc schedules; anything else is refused here rather than run at the
//     wrong time.
func parseExpression(s string) (expression, error) {
	switch {
	case strings.HasPrefix(s, "rate(") && strings.HasSuffix(s, ")"):
		return parseRate(strings.TrimSuffix(strings.TrimPrefix(s, "rate("), ")"))
	case strings.HasPrefix(s, "cron(") && strings.HasSuffix(s, ")"):
		return parseCron(strings.TrimSuffix(strings.TrimPrefix(s, "cron("), ")"))
	}
	return nil, fmt.Errorf("schedule %q: want rate(...) or cron(...)", s)
}

type rate time.Duration

func (r rate) next(t time.Time) time.Time { return t.Add(time.Duration(r)) }

func parseRate(body string) (expression, error) {
	f := strings.Fields(body)
	if len(f) != 2 {
		return nil, fmt.Errorf("rate(%s): want rate(<number> <unit>)", body)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 {
		return nil, fmt.Errorf("rate(%s): %q is not a positive whole number", body, f[0])
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	unit := f[1]
	if n != 1 {
		if !strings.HasSuffix(unit, "s") {
			return nil, fmt.Errorf("rate(%s): use the plural unit for a value other than 1", body)
		}
		unit = strings.TrimSuffix(unit, "s")
	}
	d, ok := units[unit]
	if !ok {
		return nil, fmt.Errorf("rate(%s): unit must be minute(s), hour(s) or day(s), singular only for 1", body)
	}
	return rate(time.Duration(n) * d), nil
}

type cron struct {
	minutes, hours [60]bool
}

func (c cron) next(t time.Time) time.Time {
	t = t.Truncate(time.Minute).Add(time.Minute)
	// Every day matches, so the next firing is within 24 hours.
	for i := 0; i < 24*60+1; i++ {
		if c.hours[t.Hour()] && c.minutes[t.Minute()] {
			return t
		}
		t = t.Add(time.Minute)
	}
	return t // unreachable: parseCron refuses empty sets
}

func parseCron(body string) (expression, error) {
	f := strings.Fields(body)
	if len(f) != 6 {
		return nil, fmt.Errorf("cron(%s): want 6 fields: minutes hours day-of-month month day-of-week year", body)
	}
	var c cron
	if err := parseCronField(f[0], 59, c.minutes[:]); err != nil {
		return nil, fmt.Errorf("cron(%s) minutes: %w", body, err)
	}
	if err := parseCronField(f[1], 23, c.hours[:]); err != nil {
		return nil, fmt.Errorf("cron(%s) hours: %w", body, err)
	}
	wild := func(s string) bool { return s == "*" || s == "?" }
	for i, name := range []string{"day-of-month", "month", "day-of-week", "year"} {
		if !wild(f[i+2]) {
			return nil, fmt.Errorf("cron(%s) %s: the local runner supports only * or ? here", body, name)
		}
	}
	if (f[2] == "?") == (f[4] == "?") {
		return nil, fmt.Errorf("cron(%s): exactly one of day-of-month and day-of-week must be ?", body)
	}
	return c, nil
}

// parseCronField fills set[0..max] from "*", "N", "A-B", lists and steps.
func parseCronField(field string, maxValue int, set []bool) error {
	for _, part := range strings.Split(field, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return fmt.Errorf("bad step %q", stepText)
			}
			step = n
		}
		lo, hi := 0, maxValue
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err1, err2 error
			lo, err1 = strconv.Atoi(a)
			hi, err2 = strconv.Atoi(b)
			if err1 != nil || err2 != nil || lo > hi {
				return fmt.Errorf("bad range %q", rng)
			}
		default:
			n, err := strconv.Atoi(rng)
			if err != nil {
				return fmt.Errorf("bad value %q", rng)
			}
			lo = n
			if !hasStep {
				hi = n
			}
		}
		if lo < 0 || hi > maxValue {
			return fmt.Errorf("%q outside 0-%d", part, maxValue)
		}
		for v := lo; v <= hi; v += step {
			set[v] = true
		}
	}
	return nil
}

// newUUID returns a random (version 4) UUID, the form EventBridge event
// ids take.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
