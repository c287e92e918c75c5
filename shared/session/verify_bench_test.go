package session

import (
	"bytes"
	"testing"
	"time"
)

// benchVerify checks one token with verify, over and over.
func benchVerify(b *testing.B, verify func(iss *Issuer, tok string) error) {
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
		if err := verify(iss, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	benchVerify(b, func(iss *Issuer, tok string) error { _, err := iss.Verify(tok); return err })
}

// The same token through the JWT library's parser with the same options
// (parse_test.go's reference), for comparison.
func BenchmarkVerifyLibrary(b *testing.B) {
	benchVerify(b, func(iss *Issuer, tok string) error { _, err := reference(iss, tok); return err })
}
