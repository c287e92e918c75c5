package sealer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestSealOpen(t *testing.T) {
	old, err := New(map[string][]byte{"k1": key(1)}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	sealedOld, err := old.Seal([]byte("HONG GILDONG"), "VER#a/identity")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealedOld, "HONG") || !strings.HasPrefix(sealedOld, "v1.k1.") {
		t.Fatalf("sealed = %q", sealedOld)
	}
	rotated, err := New(map[string][]byte{"k1": key(1), "k2": key(2)}, "k2")
	if err != nil {
		t.Fatal(err)
	}
	sealedNew, _ := rotated.Seal([]byte("HONG GILDONG"), "VER#a/identity")
	if !strings.HasPrefix(sealedNew, "v1.k2.") {
		t.Fatalf("new values must use the active key: %q", sealedNew)
	}
	tampered := []byte(sealedNew)
	tampered[len(tampered)-3] ^= 1
	tests := []struct {
		name, sealed, aad string
		s                 *Sealer
		ok                bool
	}{
		{"same key", sealedOld, "VER#a/identity", old, true},
		{"old value after rotation", sealedOld, "VER#a/identity", rotated, true},
		{"new value", sealedNew, "VER#a/identity", rotated, true},
		{"moved to another record", sealedNew, "VER#b/identity", rotated, false},
		{"tampered", string(tampered), "VER#a/identity", rotated, false},
		{"unknown key id", sealedNew, "VER#a/identity", old, false},
		{"garbage", "v1.k1.!!!", "VER#a/identity", old, false},
		{"no version", "plain text", "VER#a/identity", old, false},
	}
	for _, tt := range tests {
		pt, err := tt.s.Open(tt.sealed, tt.aad)
		if tt.ok && (err != nil || string(pt) != "HONG GILDONG") {
			t.Errorf("%s: %q %v", tt.name, pt, err)
		}
		if !tt.ok && !errors.Is(err, ErrOpen) {
			t.Errorf("%s: want ErrOpen, got %q %v", tt.name, pt, err)
		}
	}
	a, _ := old.Seal([]byte("x"), "aad")
	b, _ := old.Seal([]byte("x"), "aad")
	if a == b {
		t.Fatal("nonces repeat")
	}
}

func TestNewRejectsBadRings(t *testing.T) {
	if _, err := New(map[string][]byte{"k1": key(1)[:16]}, "k1"); err == nil {
		t.Error("short key accepted")
	}
	if _, err := New(map[string][]byte{"k1": key(1)}, "k2"); err == nil {
		t.Error("missing active key accepted")
	}
}
