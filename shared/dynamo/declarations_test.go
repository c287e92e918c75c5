package dynamo

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/declaration"
	"github.com/pccc/pccc/shared/stats"
)

// The conditions hold a declaration's rules even for callers that decided
// on a stale read: decided once, by its own holder, before its deadline.
func TestDeclarationDecisionsAreConditional(t *testing.T) {
	ctx := context.Background()
	db := localDynamo(t)
	st := NewDeclarationStore(db, table)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	p := declaration.DefaultPolicy()
	file := func(id string) declaration.Declaration {
		t.Helper()
		d := declaration.New(p, true, declaration.Declaration{ID: id, HolderKey: "hk", KeyID: "key", FiledBy: "ACME", CheckID: "chk", Code: "P247732688745",
			Goods: declaration.Goods{Waybill: "CJ123456", Value: "49.9", Currency: "USD", Items: []declaration.Item{{Description: "shoes", Quantity: 2}}}}, now)
		if err := st.File(ctx, d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := file("a")
	got, err := st.Declaration(ctx, "a")
	if err != nil || !reflect.DeepEqual(got.Goods, a.Goods) || got.Status != declaration.Pending || !got.ConfirmBy.Equal(a.ConfirmBy) || got.FiledBy != "ACME" {
		t.Fatalf("read back %+v, %v; filed %+v", got, err, a)
	}
	if err := st.File(ctx, a); err == nil {
		t.Error("a second filing under the same id was stored")
	}
	if _, err := st.Declaration(ctx, "nope"); !errors.Is(err, ErrNoDeclaration) {
		t.Errorf("unknown id: %v", err)
	}

	// Another holder cannot decide it, even holding the record.
	other := a
	other.HolderKey = "someone-else"
	if err := st.Decide(ctx, other, declaration.Accepted, now); !errors.Is(err, declaration.ErrConflict) {
		t.Errorf("another holder's decision: %v", err)
	}
	// The first decision wins; a second on the same (stale) read loses.
	if err := st.Decide(ctx, a, declaration.Accepted, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := st.Decide(ctx, a, declaration.Denied, now.Add(2*time.Minute)); !errors.Is(err, declaration.ErrConflict) {
		t.Errorf("a denial after the confirmation: %v", err)
	}
	if got, _ := st.Declaration(ctx, "a"); got.Status != declaration.Accepted || !got.DecidedAt.Equal(now.Add(time.Minute)) {
		t.Errorf("after the race: %s at %v", got.Status, got.DecidedAt)
	}
	misuse, err := st.MisuseOn(ctx, "2026-12-01")
	if err != nil || len(misuse) != 0 {
		t.Errorf("a lost denial left misuse records: %v %v", misuse, err)
	}

	// At or after the deadline nothing can be decided.
	b := file("b")
	for _, at := range []time.Time{b.ConfirmBy, b.ConfirmBy.Add(time.Nanosecond), b.ConfirmBy.Add(time.Hour)} {
		for _, outcome := range []declaration.Status{declaration.Accepted, declaration.Denied} {
			if err := st.Decide(ctx, b, outcome, at); !errors.Is(err, declaration.ErrConflict) {
				t.Errorf("%s at %v (deadline %v): %v", outcome, at, b.ConfirmBy, err)
			}
		}
	}
	// Just before it, a denial goes through with its misuse record.
	if err := st.Decide(ctx, b, declaration.Denied, b.ConfirmBy.Add(-time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	misuse, err = st.MisuseOn(ctx, "2026-12-04")
	if err != nil || len(misuse) != 1 || misuse[0].DeclarationID != "b" || misuse[0].HolderKey != "hk" || misuse[0].Code != "P247732688745" {
		t.Errorf("misuse records: %+v, %v", misuse, err)
	}

	list, err := st.Of(ctx, "hk", 10)
	if err != nil || len(list) != 2 || list[0].ID != "b" {
		t.Errorf("the holder's declarations, newest first: %+v, %v", list, err)
	}
	if list, _ := st.Of(ctx, "someone-else", 10); len(list) != 0 {
		t.Errorf("another holder lists %d", len(list))
	}

	// Counted: three filed on the day; one confirmed, one denied, and the
	// one left to lapse counted expired on its deadline's day and hour
	// (the decided ones' provisional counts taken back).
	c := file("c")
	days, err := NewStats(db, table).Read(ctx, []string{stats.Day(now), stats.Day(c.ConfirmBy)}, true)
	if err != nil {
		t.Fatal(err)
	}
	filedDay, dueDay := days[0], days[1]
	if f := filedDay.Counts; f[stats.DeclarationsFiled] != 3 || f[stats.DeclarationsConfirmed] != 1 || f[stats.DeclarationsExpired] != 0 ||
		filedDay.Hours[stats.Hour(now)][stats.DeclarationsFiled] != 3 {
		t.Errorf("the filing day's counts: %+v", filedDay)
	}
	if f := dueDay.Counts; f[stats.DeclarationsDenied] != 1 || f[stats.DeclarationsExpired] != 1 || dueDay.Hours[stats.Hour(c.ConfirmBy)][stats.DeclarationsExpired] != 1 {
		t.Errorf("the deadline's day counts: %+v", dueDay)
	}

	on, err := st.ConfirmationRequired(ctx, "hk")
	if err != nil || on {
		t.Fatalf("setting before: %v %v", on, err)
	}
	for _, want := range []bool{true, false, true} {
		if err := st.SetConfirmation(ctx, "hk", want, now); err != nil {
			t.Fatal(err)
		}
		if on, _ := st.ConfirmationRequired(ctx, "hk"); on != want {
			t.Errorf("setting %v reads %v", want, on)
		}
	}
}
