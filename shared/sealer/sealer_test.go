package sealer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func keys(ids ...string) map[string][]byte {
	m := map[string][]byte{}
	for i, id := range ids {
		m[id] = bytes.Repeat([]byte{byte(i + 1)}, 32)
	}
	return m
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name   string
		keys   map[string][]byte
		active string
		ok     bool
	}{
		{"ok", keys("k1", "k2"), "k2", true},
		{"no keys", nil, "k1", false},
		{"active missing", keys("k1"), "k9", false},
		{"short key", map[string][]byte{"k1": make([]byte, 16)}, "k1", false},
		{"dot in id", map[string][]byte{"k.1": make([]byte, 32)}, "k.1", false},
		{"empty id", map[string][]byte{"": make([]byte, 32)}, "", false},
	}
	for _, tt := range tests {
		_, err := New(tt.keys, tt.active)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}

func TestSealOpen(t *testing.T) {
	secret := []byte(`{"name":"HONG GILDONG","birthDate":"19900101"}`)
	old, _ := New(keys("k1"), "k1")
	sealedOld, err := old.Seal("VER#a#identity", secret)
	if err != nil {
		t.Fatal(err)
	}
	// After rotation the ring holds k1 and k2 and seals with k2.
	rotated, _ := New(keys("k1", "k2"), "k2")
	sealed, err := rotated.Seal("VER#a#identity", secret)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealed, "v1.k2.") || !strings.HasPrefix(sealedOld, "v1.k1.") {
		t.Fatalf("format: %q %q", sealed, sealedOld)
	}
	if strings.Contains(sealed, "HONG") || strings.Contains(sealed, "19900101") {
		t.Fatal("sealed value shows the plaintext")
	}
	again, _ := rotated.Seal("VER#a#identity", secret)
	if again == sealed {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	onlyK2, _ := New(map[string][]byte{"k2": keys("k1", "k2")["k2"]}, "k2")

	flip := func(s string) string {
		b := []byte(s)
		i := len(b) - 3
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name    string
		s       *Sealer
		aad     string
		sealed  string
		wantErr error
	}{
		{"round trip", rotated, "VER#a#identity", sealed, nil},
		{"rotated ring opens old value", rotated, "VER#a#identity", sealedOld, nil},
		{"tampered ciphertext", rotated, "VER#a#identity", flip(sealed), ErrTampered},
		{"wrong field", rotated, "VER#a#name", sealed, ErrTampered},
		{"moved to another item", rotated, "VER#b#identity", sealed, ErrTampered},
		{"key id edited", rotated, "VER#a#identity", strings.Replace(sealedOld, "v1.k1.", "v1.k2.", 1), ErrTampered},
		{"unknown key id", onlyK2, "VER#a#identity", sealedOld, ErrUnknownKey},
		{"other version", rotated, "VER#a#identity", "v2" + sealed[2:], ErrMalformed},
		{"no key id", rotated, "VER#a#identity", "v1.", ErrMalformed},
		{"bad base64", rotated, "VER#a#identity", "v1.k2.***", ErrMalformed},
		{"too short", rotated, "VER#a#identity", "v1.k2.AAAA", ErrMalformed},
		{"empty", rotated, "VER#a#identity", "", ErrMalformed},
	}
	for _, tt := range tests {
		got, err := tt.s.Open(tt.aad, tt.sealed)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.wantErr)
			continue
		}
		if tt.wantErr == nil && !bytes.Equal(got, secret) {
			t.Errorf("%s: got %q", tt.name, got)
		}
	}
}

// Open reads any string without panicking, and opens what Seal made for
// the same place only.
func FuzzOpen(f *testing.F) {
	s, _ := New(keys("k1", "k2"), "k2")
	f.Add("VER#a#identity", []byte("HONG GILDONG"), "v1.k2.AAAA")
	f.Add("", []byte{}, "v1..")
	f.Add("HOLDER#x#phone", []byte("01012345678"), "v1.k1.////")
	f.Fuzz(func(t *testing.T, aad string, plain []byte, other string) {
		_, _ = s.Open(aad, other)
		sealed, err := s.Seal(aad, plain)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Open(aad, sealed)
		if err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("Open(Seal(%q)) = %q, %v", plain, got, err)
		}
		if _, err := s.Open(aad+"x", sealed); !errors.Is(err, ErrTampered) {
			t.Fatalf("opened for another place: %v", err)
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	s, _ := New(keys("k1"), "k1")
	sealed, _ := s.Seal("HOLDER#hk-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG#koreanName", []byte("홍길동"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Open("HOLDER#hk-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG#koreanName", sealed); err != nil {
			b.Fatal(err)
		}
	}
}
