package holder

import (
	"slices"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/stats"
)

var (
	p     = DefaultPolicy()
	issue = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now   = issue.Add(48 * time.Hour)
)

func rec(s Status, by Actor) *Record {
	return &Record{Code: "P000000000000", Status: s, SuspendedBy: by, IssuedAt: issue, ExpiresAt: issue.AddDate(1, 0, 0)}
}

// TestStatusGraph walks every command from every state: only the edges of
// the graph succeed, and each lands where it must.
func TestStatusGraph(t *testing.T) {
	type edge struct {
		from  Status
		by    Actor // of the suspension, for Suspended
		k     Kind
		actor Actor
	}
	allowed := map[edge]Status{
		{Active, "", Reissue, ByHolder}:                Active,
		{Suspended, ByHolder, Reissue, ByHolder}:       Active,
		{Suspended, ByAuthority, Reissue, ByAuthority}: Active,
		{Active, "", Reissue, ByAuthority}:             Active,
		{Suspended, ByHolder, Reissue, ByAuthority}:    Active,
		{Active, "", Suspend, ByHolder}:                Suspended,
		{Active, "", Suspend, ByAuthority}:             Suspended,
		{Suspended, ByHolder, Suspend, ByAuthority}:    Suspended,
		{Suspended, ByHolder, Resume, ByHolder}:        Active,
		{Suspended, ByHolder, Resume, ByAuthority}:     Active,
		{Suspended, ByAuthority, Resume, ByAuthority}:  Active,
		{Active, "", Cancel, ByHolder}:                 Cancelled,
		{Suspended, ByHolder, Cancel, ByHolder}:        Cancelled,
		{Suspended, ByAuthority, Cancel, ByHolder}:     Cancelled,
		{Expired, "", Cancel, ByHolder}:                Cancelled,
		{Active, "", Update, ByHolder}:                 Active,
		{Suspended, ByHolder, Update, ByHolder}:        Suspended,
		{Suspended, ByAuthority, Update, ByHolder}:     Suspended,
		{Cancelled, "", Issue, ByHolder}:               Active,
	}
	for _, from := range []struct {
		s  Status
		by Actor
	}{{Active, ""}, {Suspended, ByHolder}, {Suspended, ByAuthority}, {Cancelled, ""}, {Expired, ""}} {
		for _, k := range []Kind{Issue, Reissue, Suspend, Resume, Cancel, Update} {
			for _, actor := range []Actor{ByHolder, ByAuthority} {
				e := edge{from.s, from.by, k, actor}
				next, eff, err := Decide(rec(from.s, from.by), k, actor, now, p)
				want, ok := allowed[e]
				if !ok && (k == Cancel || k == Update || k == Issue) && actor == ByAuthority {
					// These commands do not depend on the actor.
					want, ok = allowed[edge{from.s, from.by, k, ByHolder}]
				}
				if !ok {
					if err == nil {
						t.Errorf("%v: allowed, to %s", e, next.Status)
					} else if c := apperr.CodeOf(err); c != apperr.Conflict && c != apperr.PolicyDenied && c != apperr.NotFound {
						t.Errorf("%v: refused with %s", e, c)
					}
					continue
				}
				if err != nil {
					t.Errorf("%v: refused: %v", e, err)
					continue
				}
				if next.Status != want {
					t.Errorf("%v: to %s, want %s", e, next.Status, want)
				}
				if eff.Count != k.Counted() {
					t.Errorf("%v: counts %s", e, eff.Count)
				}
			}
		}
	}
}

func TestIssue(t *testing.T) {
	next, eff, err := Decide(nil, Issue, ByHolder, now, p)
	if err != nil || !eff.NewCode || next.Status != Active || eff.Count != stats.Issued {
		t.Fatalf("first issue: %+v %+v %v", next, eff, err)
	}
	if !next.ExpiresAt.Equal(now.AddDate(1, 0, 0)) {
		t.Errorf("expires %v, want a year on", next.ExpiresAt)
	}
	if _, _, err := Decide(nil, Reissue, ByHolder, now, p); err != ErrNoCode {
		t.Errorf("reissue without a code: %v", err)
	}
	for _, s := range []Status{Active, Suspended} {
		if _, _, err := Decide(rec(s, ByHolder), Issue, ByHolder, now, p); err != ErrLiveCode {
			t.Errorf("issue over %s: %v", s, err)
		}
	}
	// A cancelled holder applies again: a new code, the year's reissues kept.
	c := rec(Cancelled, "")
	c.ReissueYear, c.ReissuesInYear = 2026, 5
	next, eff, err = Decide(c, Issue, ByHolder, now, p)
	if err != nil || !eff.NewCode || eff.RetireCode != "" || next.ReissuesInYear != 5 || next.Code != "" {
		t.Fatalf("issue after cancel: %+v %+v %v", next, eff, err)
	}
}

func TestReissueQuotaPerKoreanYear(t *testing.T) {
	r := rec(Active, "")
	at := time.Date(2026, 12, 31, 10, 0, 0, 0, time.UTC) // 19:00 KST, still 2026
	for i := 1; i <= p.ReissuesPerYear; i++ {
		next, eff, err := Decide(r, Reissue, ByHolder, at, p)
		if err != nil {
			t.Fatalf("reissue %d: %v", i, err)
		}
		if eff.RetireCode != r.Code || !eff.NewCode || next.ReissuesInYear != i || next.ReissueYear != 2026 {
			t.Fatalf("reissue %d: %+v %+v", i, next, eff)
		}
		next.Code = "P00000000000" + string(rune('0'+i))
		r = &next
	}
	if _, _, err := Decide(r, Reissue, ByHolder, at, p); err != ErrQuota {
		t.Fatalf("sixth reissue: %v", err)
	}
	if left := r.ReissuesLeft(at, p); left != 0 {
		t.Errorf("left %d", left)
	}
	// 15:00 UTC on 31 Dec is midnight in Korea: a new year, a new quota.
	newYear := time.Date(2026, 12, 31, 15, 0, 0, 0, time.UTC)
	if left := r.ReissuesLeft(newYear, p); left != p.ReissuesPerYear {
		t.Errorf("left in the new year %d", left)
	}
	next, _, err := Decide(r, Reissue, ByHolder, newYear, p)
	if err != nil || next.ReissueYear != 2027 || next.ReissuesInYear != 1 {
		t.Fatalf("reissue in the new year: %+v %v", next, err)
	}
	// The authority is not bound by the holder's quota.
	if _, _, err := Decide(r, Reissue, ByAuthority, at, p); err != nil {
		t.Errorf("authority reissue over quota: %v", err)
	}
}

func TestAuthoritySuspensionHolds(t *testing.T) {
	r := rec(Suspended, ByAuthority)
	for _, k := range []Kind{Resume, Reissue} {
		if _, _, err := Decide(r, k, ByHolder, now, p); err != ErrByAuth {
			t.Errorf("holder %s of an authority suspension: %v", k, err)
		}
	}
	// Expiry and renewal do not launder it.
	expired, _, err := Decide(r, Expire, BySystem, r.ExpiresAt, p)
	if err != nil || expired.Status != Expired {
		t.Fatalf("expire: %+v %v", expired, err)
	}
	renewed, _, err := Decide(&expired, Renew, ByHolder, r.ExpiresAt.Add(time.Hour), p)
	if err != nil || renewed.Status != Suspended || renewed.SuspendedBy != ByAuthority {
		t.Fatalf("renew after expiry: %+v %v", renewed, err)
	}
}

func TestRenewalWindowAndExpiry(t *testing.T) {
	r := rec(Active, "")
	exp := r.ExpiresAt
	for _, tc := range []struct {
		at time.Time
		ok bool
	}{
		{exp.Add(-p.RenewalWindow - time.Second), false},
		{exp.Add(-p.RenewalWindow), true},
		{exp, true},
		{exp.Add(p.RenewalWindow - time.Second), true},
		{exp.Add(p.RenewalWindow), false},
	} {
		next, _, err := Decide(r, Renew, ByHolder, tc.at, p)
		if tc.ok != (err == nil) {
			t.Errorf("renew at %v: %v", tc.at.Sub(exp), err)
			continue
		}
		if err == nil && !next.ExpiresAt.Equal(tc.at.UTC().AddDate(1, 0, 0)) {
			t.Errorf("renew at %v: expires %v", tc.at.Sub(exp), next.ExpiresAt)
		}
		if err != nil && apperr.CodeOf(err) != apperr.PolicyDenied {
			t.Errorf("renew outside the window: %v", err)
		}
	}
	if _, _, err := Decide(r, Expire, BySystem, exp.Add(-time.Second), p); err != ErrNotDue {
		t.Errorf("expire early: %v", err)
	}
	e, eff, err := Decide(r, Expire, BySystem, exp, p)
	if err != nil || e.Status != Expired || eff.RetireCode != "" || eff.Count != stats.Expired {
		t.Fatalf("expire: %+v %+v %v", e, eff, err)
	}
	if due, ok := e.Due(p); !ok || !due.Equal(exp.Add(p.RenewalWindow)) {
		t.Errorf("an expired code is due at %v", due)
	}
	if _, _, err := Decide(&e, Lapse, BySystem, exp.Add(p.RenewalWindow-time.Second), p); err != ErrNotDue {
		t.Errorf("lapse early: %v", err)
	}
	l, eff, err := Decide(&e, Lapse, BySystem, exp.Add(p.RenewalWindow), p)
	if err != nil || l.Status != Cancelled || eff.RetireCode != r.Code || eff.Count != stats.Cancelled {
		t.Fatalf("lapse: %+v %+v %v", l, eff, err)
	}
	if _, ok := l.Due(p); ok {
		t.Error("a cancelled code is still due")
	}
	if due, ok := r.Due(p); !ok || !due.Equal(exp) {
		t.Errorf("an active code is due at %v", due)
	}
}

func TestUpdateRestartsValidity(t *testing.T) {
	next, eff, err := Decide(rec(Active, ""), Update, ByHolder, now, p)
	if err != nil || !next.ExpiresAt.Equal(now.AddDate(1, 0, 0)) || eff.NewCode || eff.RetireCode != "" || eff.Count != stats.Updated {
		t.Fatalf("update: %+v %+v %v", next, eff, err)
	}
}

func TestKinds(t *testing.T) {
	for _, k := range Kinds() {
		if !k.Valid() || !k.Counted().Valid() {
			t.Errorf("%s", k)
		}
	}
	if Kind("frobnicate").Valid() {
		t.Error("unknown kind valid")
	}
	if _, _, err := Decide(rec(Active, ""), Kind("frobnicate"), ByHolder, now, p); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestCountsSayWhyAndByWhom(t *testing.T) {
	tests := []struct {
		k      Kind
		by     Actor
		reason string
		want   []stats.Kind
	}{
		{Issue, ByHolder, "", []stats.Kind{stats.Issued}},
		{Reissue, ByHolder, "lost", []stats.Kind{stats.Reissued, stats.ReissuedLost}},
		{Reissue, ByHolder, "leak_concern", []stats.Kind{stats.Reissued, stats.ReissuedLeakConcern}},
		{Reissue, ByHolder, "misuse_suspected", []stats.Kind{stats.Reissued, stats.ReissuedMisuseSuspected}},
		{Reissue, ByHolder, "no_longer_needed", []stats.Kind{stats.Reissued, stats.ReissuedOther}},
		{Reissue, ByAuthority, "", []stats.Kind{stats.Reissued, stats.ReissuedOther}},
		{Suspend, ByHolder, "lost", []stats.Kind{stats.Suspended, stats.SuspendedByHolder}},
		{Suspend, ByAuthority, "", []stats.Kind{stats.Suspended, stats.SuspendedByAuthority}},
		{Cancel, ByHolder, "", []stats.Kind{stats.Cancelled, stats.CancelledByHolder}},
		{Cancel, ByAuthority, "", []stats.Kind{stats.Cancelled, stats.CancelledByAuthority}},
		{Lapse, BySystem, "", []stats.Kind{stats.Cancelled, stats.CancelledLapsed}},
		{Expire, BySystem, "", []stats.Kind{stats.Expired}},
		{Resume, ByHolder, "", []stats.Kind{stats.Resumed}},
		{Renew, ByHolder, "", []stats.Kind{stats.Renewed}},
		{Update, ByHolder, "", []stats.Kind{stats.Updated}},
	}
	for _, tt := range tests {
		if got := Counts(tt.k, tt.by, tt.reason); !slices.Equal(got, tt.want) {
			t.Errorf("Counts(%s, %s, %q) = %v, want %v", tt.k, tt.by, tt.reason, got, tt.want)
		}
	}
}
