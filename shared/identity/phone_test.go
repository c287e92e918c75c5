package identity_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/limits"
	"github.com/pccc/pccc/shared/otp"
	"github.com/pccc/pccc/shared/testkit"
)

// challengeStore is the verifications in a map, with the conditional
// writes the DynamoDB store makes.
type challengeStore struct {
	mu sync.Mutex
	m  map[string]identity.Verification
}

func (s *challengeStore) Get(_ context.Context, id string) (identity.Verification, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[id]
	if !ok {
		return v, identity.ErrNoVerification
	}
	return v, nil
}

func (s *challengeStore) SaveChallenge(_ context.Context, id string, old, next identity.Verification) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.m[id]
	if cur.Challenge != old.Challenge {
		return identity.ErrStale
	}
	next.PhoneFailures = cur.PhoneFailures
	s.m[id] = next
	return nil
}

func (s *challengeStore) TakePhoneTry(_ context.Context, id string, limit int) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[id]
	if v.PhoneFailures >= limit {
		return false, nil
	}
	v.PhoneFailures++
	s.m[id] = v
	return true, nil
}

func (s *challengeStore) GivePhoneTry(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[id]
	if v.PhoneFailures > 0 {
		v.PhoneFailures--
	}
	s.m[id] = v
	return nil
}

type carrierFunc func(s otp.Subscriber) (bool, error)

func (f carrierFunc) CheckSubscriber(_ context.Context, s otp.Subscriber) (bool, error) { return f(s) }

type outboxFunc func(c identity.QueuedCode) error

func (f outboxFunc) Enqueue(_ context.Context, c identity.QueuedCode) error { return f(c) }

type noSessions struct{}

func (noSessions) Issue(string, string) (string, time.Time, error) { return "t", time.Time{}, nil }

// phoneEnv: Hong (the stranger) and Smith (the victim), each with a
// verification, on counters that count as the table does.
type phoneEnv struct {
	e        *env
	step     *identity.PhoneStep
	store    *challengeStore
	counters *testkit.Counters
	carrier  atomic.Int64 // carrier calls
	carrErr  error
	sent     atomic.Int64
	hong     string
	smith    string
}

var (
	hongPhone  = map[string]string{"carrier": "SKT", "phone": "01000000001", "birthDate": "19900101", "sex": "M"}
	smithPhone = map[string]string{"carrier": "KT", "phone": "01000000004", "birthDate": "19880412", "sex": "M"}
)

func newPhoneEnv(t *testing.T, adjust func(*otp.Policy)) *phoneEnv {
	t.Helper()
	p := &phoneEnv{e: newEnv(t), store: &challengeStore{m: map[string]identity.Verification{}}}
	for _, who := range []struct {
		name, rrn string
		id        *string
	}{{hong, hongRRN, &p.hong}, {"SMITH JOHN", "880412-5123456", &p.smith}} {
		v, err := p.e.start(who.name, who.rrn, "198.51.100.1")
		if err != nil {
			t.Fatal(err)
		}
		p.store.m[v.ID], *who.id = v, v.ID
	}
	p.counters = testkit.NewCounters(p.e.clock.Now)
	owners := map[string]string{"01000000001": "HONGGILDONG", "01000000004": "SMITHJOHN"}
	policy := otp.DefaultPolicy()
	if adjust != nil {
		adjust(&policy)
	}
	p.step = &identity.PhoneStep{
		Store: p.store, Limiter: p.counters, Hasher: p.e.hasher, Sealer: p.e.sealer, Sessions: noSessions{},
		Carrier: carrierFunc(func(s otp.Subscriber) (bool, error) {
			p.carrier.Add(1)
			if p.carrErr != nil {
				return false, p.carrErr
			}
			return owners[s.Phone] == s.Name, nil
		}),
		Outbox: outboxFunc(func(identity.QueuedCode) error { p.sent.Add(1); return nil }),
		Policy: policy, Now: p.e.clock.Now,
	}
	return p
}

func (p *phoneEnv) send(id string, b map[string]string, ip string) error {
	_, err := p.step.Send(context.Background(), identity.SendInput{
		VerificationID: id, Carrier: b["carrier"], Phone: b["phone"], BirthDate: b["birthDate"], Sex: b["sex"], ClientIP: ip,
	})
	return err
}

func phoneCodes(p *phoneEnv, phone string) limits.Bound {
	return limits.Bound{Key: "smsphone:" + p.e.hasher.Sum(identity.PurposePhone, phone), Window: limits.KoreanDay}
}

// A stranger naming the victim's phone spends their own verification and
// nothing of the victim's phone: the victim's own request sends a code.
func TestSendStrangerCannotSpendAVictimsPhone(t *testing.T) {
	p := newPhoneEnv(t, func(pol *otp.Policy) { pol.MaxSendsPerPhonePerDay = 1 })
	for i := range 6 {
		err := p.send(p.hong, smithPhone, "203.0.113.9")
		want := apperr.VerificationFailed
		if i >= 3 {
			want = apperr.TooManyAttempts
		}
		if ae := apperr.As(err); ae.Code != want || (i >= 3 && ae.Limit != apperr.LimitVerificationPhones) {
			t.Fatalf("try %d: %v (limit %q)", i, err, ae.Limit)
		}
	}
	if p.carrier.Load() != 3 || p.counters.Count(phoneCodes(p, smithPhone["phone"])) != 0 {
		t.Fatalf("carrier asked %d times, victim's phone counted %d", p.carrier.Load(), p.counters.Count(phoneCodes(p, smithPhone["phone"])))
	}
	if err := p.send(p.smith, smithPhone, "198.51.100.7"); err != nil || p.sent.Load() != 1 {
		t.Fatalf("the victim's own request: %v, %d sent", err, p.sent.Load())
	}
	if n := p.counters.Count(phoneCodes(p, smithPhone["phone"])); n != 1 {
		t.Fatalf("the victim's phone counted %d", n)
	}
}

// The right phone on a spent verification gets the very refusal a wrong
// one gets: no oracle; and the carrier is not asked.
func TestSendSpentVerificationIsNoOracle(t *testing.T) {
	p := newPhoneEnv(t, nil)
	wrong := map[string]string{"carrier": "SKT", "phone": "01099990000", "birthDate": "19900101", "sex": "M"}
	for range 3 {
		p.send(p.hong, wrong, "203.0.113.9")
	}
	calls := p.carrier.Load()
	right, other := p.send(p.hong, hongPhone, "203.0.113.9"), p.send(p.hong, wrong, "203.0.113.9")
	if right.Error() != other.Error() || apperr.As(right).RetryAfter != apperr.As(other).RetryAfter || p.carrier.Load() != calls {
		t.Fatalf("right %v, wrong %v, carrier asked %d more", right, other, p.carrier.Load()-calls)
	}
}

// Failed checks count against the person's day across verifications, and
// against the client address's hour; a check that did not fail (a match,
// or a carrier that did not answer) gives its counts back.
func TestSendFailedChecksCountAgainstPersonAndAddress(t *testing.T) {
	p := newPhoneEnv(t, func(pol *otp.Policy) { pol.PhoneFailuresPerDay, pol.PhoneFailuresPerAddress = 4, 5 })
	wrong := map[string]string{"carrier": "SKT", "phone": "01099990000", "birthDate": "19900101", "sex": "M"}
	p.carrErr = &identity.UnavailableError{RetryAfter: time.Second}
	if err := p.send(p.hong, wrong, "203.0.113.9"); apperr.CodeOf(err) != apperr.Overloaded {
		t.Fatalf("carrier down: %v", err)
	}
	p.carrErr = nil
	for range 3 {
		p.send(p.hong, wrong, "203.0.113.9")
	}
	v, _ := p.store.Get(context.Background(), p.hong)
	if v.PhoneFailures != 3 {
		t.Fatalf("the verification counted %d failures (an unanswered check counted?)", v.PhoneFailures)
	}
	// A second verification of Hong's: one more failure spends his day.
	second, err := p.e.start(hong, hongRRN, "198.51.100.2")
	if err != nil {
		t.Fatal(err)
	}
	p.store.m[second.ID] = second
	if err := p.send(second.ID, wrong, "203.0.113.9"); apperr.CodeOf(err) != apperr.VerificationFailed {
		t.Fatalf("fourth failure: %v", err)
	}
	err = p.send(second.ID, hongPhone, "198.51.100.2")
	// testNow is 18:00:00.5 in Seoul.
	if ae := apperr.As(err); ae.Code != apperr.TooManyAttempts || ae.Limit != apperr.LimitPersonPhones || ae.RetryAfter != 6*time.Hour {
		t.Fatalf("the right phone after the person's day is spent: %v (limit %q, wait %v)", err, ae.Limit, ae.RetryAfter)
	}
	// The address: 4 failures from 203.0.113.9; Smith fails once from it,
	// then the address is spent for everyone.
	if err := p.send(p.smith, wrong, "203.0.113.9"); apperr.CodeOf(err) != apperr.VerificationFailed {
		t.Fatalf("fifth failure from the address: %v", err)
	}
	if ae := apperr.As(p.send(p.smith, smithPhone, "203.0.113.9")); ae.Limit != apperr.LimitAddressPhones || ae.Code != apperr.RateLimited && ae.Code != apperr.TooManyAttempts {
		t.Fatalf("from the spent address: %v", ae)
	}
	if err := p.send(p.smith, smithPhone, "198.51.100.7"); err != nil {
		t.Fatalf("from another address: %v", err)
	}
}

// A flood of parallel wrong phones on one verification asks the carrier
// no more often than the verification's budget.
func TestSendFloodAsksTheCarrierOnlyThePolicysTimes(t *testing.T) {
	p := newPhoneEnv(t, nil)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := map[string]string{"carrier": "SKT", "phone": "0109" + string(rune('0'+i%10)) + "000000", "birthDate": "19900101", "sex": "M"}
			_ = p.send(p.hong, b, "203.0.113.9")
		}()
	}
	wg.Wait()
	if n := p.carrier.Load(); n != 3 {
		t.Fatalf("the carrier was asked %d times", n)
	}
}

// A code that cannot be queued is not counted against the phone.
func TestSendUnqueuedCodeIsNotCounted(t *testing.T) {
	p := newPhoneEnv(t, nil)
	p.step.Outbox = outboxFunc(func(identity.QueuedCode) error { return errors.New("queue down") })
	if err := p.send(p.hong, hongPhone, "198.51.100.1"); apperr.CodeOf(err) != apperr.Overloaded {
		t.Fatalf("queue down: %v", err)
	}
	if n := p.counters.Count(phoneCodes(p, hongPhone["phone"])); n != 0 {
		t.Fatalf("an unsent code counted %d", n)
	}
}
