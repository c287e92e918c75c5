package otp

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pccc/pccc/shared/keyhash"
)

func newHasher(t *testing.T) *keyhash.Hasher {
	t.Helper()
	h, err := keyhash.New(bytes.Repeat([]byte{7}, keyhash.MinKeyBytes))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestGenerateIsSixDigitsAndVaries(t *testing.T) {
	seen := map[string]bool{}
	var firstDigit [10]int
	const n = 20000
	for range n {
		c, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if !validCode(c) {
			t.Fatalf("code %q is not six digits", c)
		}
		seen[c] = true
		firstDigit[c[0]-'0']++
	}
	// 20,000 draws from a million codes repeat a few hundred times at most.
	if len(seen) < n-500 {
		t.Fatalf("only %d distinct codes in %d draws", len(seen), n)
	}
	// Leading zeros must occur (pad works) and no first digit dominates.
	for d, k := range firstDigit {
		if k < n/10/2 || k > n/10*2 {
			t.Fatalf("first digit %d seen %d times of %d", d, k, n)
		}
	}
}

// fixedRandom feeds Generate chosen 32-bit draws.
func fixedRandom(t *testing.T, draws ...uint32) {
	t.Helper()
	old := random
	t.Cleanup(func() { random = old })
	random = func(b []byte) (int, error) {
		if len(draws) == 0 {
			return 0, errors.New("no more draws")
		}
		v := draws[0]
		draws = draws[1:]
		b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		return 4, nil
	}
}

func TestGenerateRejectsBiasedDraws(t *testing.T) {
	tests := []struct {
		name  string
		draws []uint32
		want  string
	}{
		{"small draw pads with zeros", []uint32{42}, "000042"},
		{"last unbiased draw", []uint32{rejectFrom - 1}, "999999"},
		{"biased draw is discarded", []uint32{rejectFrom, 1_000_007}, "000007"},
		{"max draw is discarded", []uint32{1<<32 - 1, 123456}, "123456"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fixedRandom(t, tt.draws...)
			got, err := Generate()
			if err != nil || got != tt.want {
				t.Fatalf("Generate = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	t.Run("generator failure is an error", func(t *testing.T) {
		fixedRandom(t)
		if c, err := Generate(); err == nil || c != "" {
			t.Fatalf("Generate = %q, %v", c, err)
		}
	})
}

func TestHashAndMatches(t *testing.T) {
	h := newHasher(t)
	stored := Hash(h, "ver-1", "123456")
	if strings.Contains(stored, "123456") || stored == Hash(h, "ver-2", "123456") {
		t.Fatal("hash shows the code or is not bound to the verification")
	}
	// The length prefix keeps id/code boundaries apart.
	if Hash(h, "ver-11", "23456") == Hash(h, "ver-1", "123456") {
		t.Fatal("hash input is ambiguous")
	}
	tests := []struct {
		name, id, code, stored string
		want                   bool
	}{
		{"right code", "ver-1", "123456", stored, true},
		{"wrong code", "ver-1", "123457", stored, false},
		{"other verification", "ver-2", "123456", stored, false},
		{"empty stored hash", "ver-1", "123456", "", false},
		{"malformed code", "ver-1", "12345", Hash(h, "ver-1", "12345"), false},
		{"letters", "ver-1", "12345a", Hash(h, "ver-1", "12345a"), false},
	}
	for _, tt := range tests {
		if got := Matches(h, tt.id, tt.code, tt.stored); got != tt.want {
			t.Errorf("%s: Matches = %v, want %v", tt.name, got, tt.want)
		}
	}
}
