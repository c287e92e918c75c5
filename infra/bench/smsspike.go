package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/pccc/pccc/infra/loadgen"
	"github.com/pccc/pccc/infra/localrun"
	"github.com/pccc/pccc/infra/localstack"
	"github.com/pccc/pccc/infra/sim"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/keyring"
	"github.com/pccc/pccc/shared/notify"
	"github.com/pccc/pccc/shared/sealer"
	"github.com/pccc/pccc/shared/sms"
	"github.com/pccc/pccc/shared/sqsqueue"
)

// SMSSpikeOptions shape the SMS spike: a provider simulator sending Rate
// messages a second (the sender's SMS_RATE is set to it), verification
// starts (POST /v1/verifications/{id}/sms) at Factor times that rate for
// Duration, and holder notices queued at NoticeRate meanwhile (the
// reissues' notices).
type SMSSpikeOptions struct {
	Rate        float64
	Factor      float64
	Duration    time.Duration
	NoticeRate  float64
	MaxWait     time.Duration // SMS_ADMIT_MAX_WAIT
	NoticeDelay time.Duration // SMS_NOTICE_DELAY
}

// DefaultSMSSpike is make bench's: a provider at 50/s, starts at 250/s for
// a minute, notices at 10/s, the template's 60 s admission bound.
func DefaultSMSSpike() SMSSpikeOptions {
	return SMSSpikeOptions{Rate: 50, Factor: 5, Duration: time.Minute, NoticeRate: 10, MaxWait: 60 * time.Second, NoticeDelay: 30 * time.Second}
}

// SMSSpikeResult is what the SMS spike measured.
type SMSSpikeResult struct {
	Options                     SMSSpikeOptions
	CodeTTL, Margin             time.Duration
	Offered, Accepted           int
	Refused, RefusedWithRetry   int // 503 OVERLOADED; with Retry-After and a place in line
	RefusedRetryAfter           int // with Retry-After (the latency bound's give no place in line)
	OtherAnswers                map[int]int
	RefusalReasons              map[string]int // 503 messages, by text
	CodesSent, CodesLate        int            // at the provider; late: after their expiry less the delivery margin
	CodesDropped                int64
	CodesMissing                int // accepted, neither received nor dropped
	CodeP50, CodeP99, CodeMax   time.Duration
	SentRate                    float64 // codes and notices a second at the provider while the spike lasted
	SentBound                   float64 // the most the sender may send a second in that window: the rate plus its bucket's burst spread over it
	ProviderRefused             int     // messages the simulator refused as over its rate
	Notices, NoticesSent        int
	NoticesDeferred             int64
	NoticeDrain, NoticeBound    time.Duration // after the spike, the last notice's arrival, and its bound
	RetryAfterP50, RetryAfterMx int           // seconds
}

// providerSim is an SMS provider at a set rate: a token bucket holding one
// second's messages (a quota in messages a second); a message over it is
// refused with 429, as a provider throttles, and counted. The sender's own
// bucket holds less (sms.Burst), so the jitter between a token's take and
// its message's arrival stays inside the provider's.
type providerSim struct {
	mu       sync.Mutex
	rate     float64
	tokens   float64
	at       time.Time
	refused  int
	received map[string][]time.Time // phone -> arrivals
	count    int
	first    time.Time
	last     time.Time
}

func (p *providerSim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m struct{ To, Text string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&m); err != nil || m.To == "" {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	burst := max(p.rate, 1)
	p.tokens = min(burst, p.tokens+now.Sub(p.at).Seconds()*p.rate)
	p.at = now
	if p.tokens < 1 {
		p.refused++
		http.Error(w, "throttled", http.StatusTooManyRequests)
		return
	}
	p.tokens--
	p.received[m.To] = append(p.received[m.To], now)
	if p.count == 0 {
		p.first = now
	}
	p.count++
	p.last = now
	w.WriteHeader(http.StatusAccepted)
}

// spikeResidents are n synthetic people with valid registration numbers
// and phones of their own.
func spikeResidents(n int) []sim.Resident {
	out := make([]sim.Resident, n)
	weights := []int{2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5}
	for i := range out {
		day := time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i/500)
		digits := day.Format("060102") + "1" + fmt.Sprintf("%05d", i%500*100+i/500%100)[:5]
		sum := 0
		for j, w := range weights {
			sum += int(digits[j]-'0') * w
		}
		digits += strconv.Itoa((11 - sum%11) % 10)
		name := "SPIKE "
		for k := i; ; k /= 26 {
			name += string(rune('A' + k%26))
			if k < 26 {
				break
			}
		}
		out[i] = sim.Resident{Name: name, RRN: digits[:6] + "-" + digits[6:], Carrier: "SKT", Phone: fmt.Sprintf("0107%07d", i),
			BirthDate: day.Format("20060102"), Sex: "M"}
	}
	return out
}

// SMSSpike runs the SMS spike on a system of its own.
func SMSSpike(ctx context.Context, templatePath string, kind localstack.Kind, o SMSSpikeOptions) (SMSSpikeResult, error) {
	res := SMSSpikeResult{Options: o, OtherAnswers: map[int]int{}, RefusalReasons: map[string]int{}}
	// Full from the start, as the sender's bucket is when it is first
	// taken from (later than now).
	prov := &providerSim{rate: o.Rate, tokens: o.Rate, at: time.Now(), received: map[string][]time.Time{}}
	srv := httptest.NewServer(prov)
	defer srv.Close()
	starts := int(math.Ceil(o.Rate * o.Factor * o.Duration.Seconds()))
	people := spikeResidents(starts)
	env := map[string]string{
		"SMS_RATE": strconv.Itoa(int(o.Rate)), "SMS_PROVIDER": "http", "SMS_HTTP_URL": srv.URL,
		"SMS_ADMIT_MAX_WAIT": o.MaxWait.String(), "SMS_NOTICE_DELAY": o.NoticeDelay.String(),
		"RATE_IP_PER_MINUTE": "1000000", "RATE_PERSON_PER_HOUR": "1000000",
	}
	s, err := startSystem(ctx, templatePath, kind, env, nil, people)
	if err != nil {
		return res, err
	}
	defer s.Close()
	res.CodeTTL, res.Margin = 3*time.Minute, 30*time.Second

	// The real-name step first, for everyone, before the spike.
	ids := make([]string, starts)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	next := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := people[i]
				body := fmt.Sprintf(`{"name":%q,"rrn":%q}`, r.Name, r.RRN)
				a, err := s.Call(ctx, http.MethodPost, "/v1/verifications", "", "", body)
				// This step is the set-up, not what is measured: a 503
				// (the machine is busy, a dependency was slow) is waited
				// out and tried again, as the page does.
				for try := 0; err == nil && a.Status == http.StatusServiceUnavailable && try < 10; try++ {
					wait, _ := strconv.Atoi(a.RetryAfter)
					time.Sleep(time.Duration(max(wait, 1)) * time.Second)
					a, err = s.Call(ctx, http.MethodPost, "/v1/verifications", "", "", body)
				}
				if err == nil && a.Status != http.StatusCreated {
					err = fmt.Errorf("real-name step: HTTP %d %v", a.Status, a.Body)
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				ids[i], _ = a.Body["verificationId"].(string)
			}
		}()
	}
	for i := range people {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return res, err
	default:
	}

	seal, err := sealer.New(benchRings[keyring.Data].Keys, benchRings[keyring.Data].Active)
	if err != nil {
		return res, err
	}
	noticeURL, err := s.QueueURL(ctx, localrun.DefaultNamePrefix+"SmsNoticeQueue")
	if err != nil {
		return res, err
	}
	notices := &sms.Outbox{Queue: &sqsqueue.Queue{SQS: s.Clients.SQS, QueueURL: noticeURL}}
	before := sms.Tallies()

	// The spike: starts at Factor × the rate, open loop; notices beside.
	type answer struct {
		i        int
		status   int
		at       time.Time
		expires  time.Time
		retry    int
		position bool
		message  string
	}
	answers := make(chan answer, starts)
	begin := time.Now()
	interval := time.Duration(float64(time.Second) / (o.Rate * o.Factor))
	var noticePhones []string
	noticeEvery := 0
	if o.NoticeRate > 0 {
		noticeEvery = max(1, int(o.Rate*o.Factor/o.NoticeRate))
	}
	var calls sync.WaitGroup
	for i := range starts {
		if d := time.Until(begin.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		calls.Add(1)
		go func(i int) {
			defer calls.Done()
			r := people[i]
			a, err := s.Call(ctx, http.MethodPost, "/v1/verifications/"+ids[i]+"/sms", "", "",
				fmt.Sprintf(`{"carrier":%q,"phone":%q,"birthDate":%q,"sex":%q}`, r.Carrier, r.Phone, r.BirthDate, r.Sex))
			if err != nil {
				answers <- answer{i: i, status: -1}
				return
			}
			ans := answer{i: i, status: a.Status, at: time.Now()}
			if exp, ok := a.Body["expiresAt"].(string); ok {
				ans.expires, _ = time.Parse(time.RFC3339, exp)
			}
			ans.retry, _ = strconv.Atoi(a.RetryAfter)
			if e, ok := a.Body["error"].(map[string]any); ok {
				_, ans.position = e["position"].(float64)
				ans.message, _ = e["message"].(string)
			}
			answers <- ans
		}(i)
		if noticeEvery > 0 && i%noticeEvery == 0 {
			// A notice to a holder of its own, with a phone of its own
			// (outside the starts' range).
			phone := fmt.Sprintf("0109%07d", len(noticePhones))
			hk := fmt.Sprintf("bench-notice-%d", len(noticePhones))
			sp, err := seal.Seal(holder.FieldAAD(hk, holder.FieldPhone), []byte(phone))
			if err != nil {
				return res, err
			}
			text, _ := notify.ChangeText(holder.Reissue, s.URL)
			if err := notices.EnqueueNotice(ctx, notify.NoticeID(hk, strconv.Itoa(len(noticePhones))), hk, sp, text.Ko, text.En); err != nil {
				return res, err
			}
			noticePhones = append(noticePhones, phone)
		}
	}
	calls.Wait()
	spikeEnd := time.Now()
	close(answers)
	accepted := map[int]answer{}
	var retries []int
	for a := range answers {
		res.Offered++
		switch {
		case a.status == http.StatusAccepted:
			res.Accepted++
			accepted[a.i] = a
		case a.status == http.StatusServiceUnavailable:
			res.Refused++
			res.RefusalReasons[a.message]++
			if a.retry > 0 && a.position {
				res.RefusedWithRetry++
			}
			if a.retry > 0 {
				res.RefusedRetryAfter++
			}
			retries = append(retries, a.retry)
		default:
			res.OtherAnswers[a.status]++
		}
	}
	sort.Ints(retries)
	if len(retries) > 0 {
		res.RetryAfterP50, res.RetryAfterMx = retries[len(retries)/2], retries[len(retries)-1]
	}
	res.Notices = len(noticePhones)
	// Drain: every accepted code reaches the provider or is dropped, and
	// every notice is sent, within the bound.
	res.NoticeBound = o.MaxWait + time.Duration(float64(res.Notices)/o.Rate*float64(time.Second)) + o.NoticeDelay + 15*time.Second
	deadline := spikeEnd.Add(res.NoticeBound)
	for time.Now().Before(deadline) {
		prov.mu.Lock()
		got := 0
		for _, a := range accepted {
			if len(prov.received[people[a.i].Phone]) > 0 {
				got++
			}
		}
		sent := 0
		var lastNotice time.Time
		for _, p := range noticePhones {
			if ts := prov.received[p]; len(ts) > 0 {
				sent++
				if ts[0].After(lastNotice) {
					lastNotice = ts[0]
				}
			}
		}
		prov.mu.Unlock()
		dropped := sms.Tallies().CodesLate - before.CodesLate
		if got+int(dropped) >= len(accepted) && sent == len(noticePhones) {
			res.NoticesSent = sent
			res.NoticeDrain = max(0, lastNotice.Sub(spikeEnd))
			break
		}
		res.NoticesSent = sent
		time.Sleep(200 * time.Millisecond)
	}
	if res.NoticesSent < res.Notices {
		res.NoticeDrain = time.Since(spikeEnd)
	}
	after := sms.Tallies()
	res.CodesDropped = after.CodesLate - before.CodesLate
	res.NoticesDeferred = after.NoticesDeferred - before.NoticesDeferred
	var lat loadgen.Histogram
	prov.mu.Lock()
	defer prov.mu.Unlock()
	res.ProviderRefused = prov.refused
	for _, a := range accepted {
		ts := prov.received[people[a.i].Phone]
		if len(ts) == 0 {
			continue
		}
		res.CodesSent++
		lat.Record(ts[0].Sub(a.at))
		if !ts[0].Before(a.expires.Add(-res.Margin)) {
			res.CodesLate++
		}
	}
	res.CodesMissing = len(accepted) - res.CodesSent - int(res.CodesDropped)
	res.CodeP50, res.CodeP99, res.CodeMax = lat.Quantile(0.5), lat.Quantile(0.99), lat.Max()
	if d := spikeEnd.Sub(begin).Seconds(); d > 0 {
		n := 0
		for _, ts := range prov.received {
			for _, at := range ts {
				if at.Before(spikeEnd) {
					n++
				}
			}
		}
		res.SentRate = float64(n) / d
		// A token bucket lets Burst more through in any window than the
		// rate alone: the bound the sender promises (sms.Burst).
		res.SentBound = res.Options.Rate + sms.Burst(res.Options.Rate)/d
	}
	return res, nil
}

// SMSChecks are the SMS spike's targets, each with its verdict.
func SMSChecks(r SMSSpikeResult) []Check {
	o := r.Options
	return []Check{
		{"sms spike: codes sent late (after expiry less the delivery margin)", fmt.Sprintf("%d", r.CodesLate), "0", r.CodesLate == 0},
		{"sms spike: accepted codes neither sent nor dropped", fmt.Sprintf("%d", r.CodesMissing), "0", r.CodesMissing == 0},
		{"sms spike: starts refused, all with Retry-After", fmt.Sprintf("%d of %d (%d with the place in line)", r.RefusedRetryAfter, r.Refused, r.RefusedWithRetry), "all", r.RefusedRetryAfter == r.Refused},
		{"sms spike: other answers than 202 and 503", fmt.Sprintf("%v", r.OtherAnswers), "none", len(r.OtherAnswers) == 0},
		{"sms spike: code send latency p99", r.CodeP99.Round(time.Millisecond).String(), "< " + (r.CodeTTL - r.Margin).String(), r.CodeSent() && r.CodeP99 < r.CodeTTL-r.Margin},
		{"sms spike: sends a second while the spike lasted", fmt.Sprintf("%.1f", r.SentRate), fmt.Sprintf("≤ %.1f (the provider's rate %.0f plus the sender's burst over the spike)", r.SentBound, o.Rate), r.SentRate <= r.SentBound},
		{"sms spike: messages the provider refused as over its rate", fmt.Sprintf("%d", r.ProviderRefused), "0", r.ProviderRefused == 0},
		{"sms spike: notices sent after the spike", fmt.Sprintf("%d of %d in %v", r.NoticesSent, r.Notices, r.NoticeDrain.Round(time.Second)), "all within " + r.NoticeBound.Round(time.Second).String(), r.NoticesSent == r.Notices && r.NoticeDrain <= r.NoticeBound},
	}
}

// CodeSent says whether any code reached the provider.
func (r SMSSpikeResult) CodeSent() bool { return r.CodesSent > 0 }

// WriteSMSSpike writes the SMS spike's section.
func WriteSMSSpike(w io.Writer, r SMSSpikeResult) {
	o := r.Options
	fmt.Fprintf(w, "A provider simulator sending **%.0f SMS/s** (the sender's `SMS_RATE`; over it, it refuses with 429 as a provider throttles); `POST /v1/verifications/{id}/sms` offered at %.0f× that, **%.0f/s for %v**, by %d people each through the real-name step before; holder notices queued on `SmsNoticeQueue` at %.0f/s meanwhile. Admission at the SMS step: `SMS_ADMIT_MAX_WAIT=%v` of the code queue's backlog at the rate; codes valid %v, not sent with under %v left.\n\n", o.Rate, o.Factor, o.Rate*o.Factor, o.Duration, r.Offered, o.NoticeRate, o.MaxWait, r.CodeTTL, r.Margin)
	fmt.Fprintf(w, "| figure | value |\n|---|---:|\n")
	fmt.Fprintf(w, "| starts offered | %d |\n| accepted (202, code queued) | %d |\n| refused (503 OVERLOADED) | %d, %d with Retry-After, %d of them with the place in line (the code queue's bound; the others the latency bound's) (Retry-After p50 %d s, max %d s) |\n", r.Offered, r.Accepted, r.Refused, r.RefusedRetryAfter, r.RefusedWithRetry, r.RetryAfterP50, r.RetryAfterMx)
	fmt.Fprintf(w, "| codes sent | %d |\n| codes sent late | %d |\n| codes dropped as too late (not sent; confirm says so) | %d |\n", r.CodesSent, r.CodesLate, r.CodesDropped)
	fmt.Fprintf(w, "| code send latency (202 to the provider) p50 / p99 / max | %v / %v / %v |\n", r.CodeP50.Round(time.Millisecond), r.CodeP99.Round(time.Millisecond), r.CodeMax.Round(time.Millisecond))
	fmt.Fprintf(w, "| SMS a second at the provider during the spike | %.1f |\n| refused by the provider as over its rate | %d |\n", r.SentRate, r.ProviderRefused)
	fmt.Fprintf(w, "| notices queued / sent | %d / %d (%d put back for later while codes took the rate) |\n| last notice after the spike's end | %v (bound %v: the code backlog's wait, the notices at the rate, one put-back delay, 15 s) |\n\n", r.Notices, r.NoticesSent, r.NoticesDeferred, r.NoticeDrain.Round(time.Second), r.NoticeBound.Round(time.Second))
	for msg, n := range r.RefusalReasons {
		fmt.Fprintf(w, "- %d refusals: %q\n", n, msg)
	}
	fmt.Fprintln(w)
	WriteVerdict(w, SMSChecks(r))
}
