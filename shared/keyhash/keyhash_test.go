package keyhash

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestNewRejectsShortKeys(t *testing.T) {
	for _, n := range []int{0, 16, 31} {
		if _, err := New(make([]byte, n)); err == nil {
			t.Errorf("New(%d bytes) accepted", n)
		}
	}
	if _, err := New(make([]byte, 32)); err != nil {
		t.Fatal(err)
	}
}

func TestSum(t *testing.T) {
	h, _ := New(key(1))
	other, _ := New(key(2))
	base := h.Sum("holder", "9001011234568")

	// A known answer computed independently: HMAC(key, 0x06 "holder" value).
	m := hmac.New(sha256.New, key(1))
	m.Write([]byte("\x06holder9001011234568"))
	if want := hex.EncodeToString(m.Sum(nil)); base != want {
		t.Fatalf("Sum = %s, want %s", base, want)
	}

	tests := []struct {
		name string
		got  string
		same bool
	}{
		{"deterministic", h.Sum("holder", "9001011234568"), true},
		{"other value", h.Sum("holder", "9001011234569"), false},
		{"other purpose", h.Sum("ratelimit", "9001011234568"), false},
		{"boundary shift", h.Sum("holder9", "001011234568"), false},
		{"other key", other.Sum("holder", "9001011234568"), false},
	}
	for _, tt := range tests {
		if (tt.got == base) != tt.same {
			t.Errorf("%s: equal=%v, want %v", tt.name, tt.got == base, tt.same)
		}
	}
	if len(base) != 64 {
		t.Fatalf("len = %d", len(base))
	}
}

func TestNewCopiesTheKey(t *testing.T) {
	k := key(3)
	h, _ := New(k)
	before := h.Sum("p", "v")
	k[0] = 9
	if h.Sum("p", "v") != before {
		t.Fatal("changing the caller's slice changed the hasher")
	}
}
