package session

import (
	"bytes"
	"testing"
	"time"
)

func BenchmarkVerify(b *testing.B) {
	iss, err := New(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1", 15*time.Minute, nil)
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := iss.Issue("holder-key-abcdefghijklmnopqrstuvwxyz0123456789", "verification-1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// The same token through the JWT library's parser with the same options
// (parse_test.go's reference), for comparison.
func BenchmarkVerifyLibrary(b *testing.B) {
	iss, err := New(map[string][]byte{"k1": bytes.Repeat([]byte{7}, 32)}, "k1", 15*time.Minute, nil)
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := iss.Issue("holder-key-abcdefghijklmnopqrstuvwxyz0123456789", "verification-1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reference(iss, tok); err != nil {
			b.Fatal(err)
		}
	}
}
