package keyhash

import "testing"

func TestSumIsKeyedAndPurposeBound(t *testing.T) {
	a := New([]byte("0123456789abcdef0123456789abcdef"))
	b := New([]byte("fedcba9876543210fedcba9876543210"))
	v := "9001011234568"
	if a.Sum("holder", v) != a.Sum("holder", v) {
		t.Fatal("not deterministic")
	}
	if a.Sum("holder", v) == b.Sum("holder", v) {
		t.Fatal("different keys give the same hash")
	}
	if a.Sum("holder", v) == a.Sum("ip", v) {
		t.Fatal("different purposes give the same hash")
	}
	if len(a.Sum("holder", v)) != 64 {
		t.Fatal("want 64 hex characters")
	}
}
