package sms

import (
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/otp"
)

// The counting rules themselves: GSM-7 up to 160 (extended characters
// twice), UCS-2 up to 70 once a character is outside GSM-7, then parts of
// 153 and 67; a Korean gateway counts ASCII 1 byte and Hangul 2, and past
// 90 bytes the message is an LMS.
func TestMeasure(t *testing.T) {
	for _, c := range []struct {
		text         string
		gsm          bool
		units, parts int
		bytes        int
		lms          bool
	}{
		{strings.Repeat("a", 160), true, 160, 1, 160, true},
		{strings.Repeat("a", 161), true, 161, 2, 161, true},
		{strings.Repeat("a", 90), true, 90, 1, 90, false},
		{strings.Repeat("[", 80) + "a", true, 161, 2, 81, false},
		{strings.Repeat("가", 45), false, 45, 1, 90, false},
		{strings.Repeat("가", 46), false, 46, 1, 92, true},
		{strings.Repeat("가", 70), false, 70, 1, 140, true},
		{strings.Repeat("가", 71), false, 71, 2, 142, true},
		{strings.Repeat("a", 69) + "가", false, 70, 1, 71, false},
		{strings.Repeat("a", 70) + "가", false, 71, 2, 72, false},
	} {
		s := Measure(c.text)
		if s.GSM7 != c.gsm || s.Units != c.units || s.AWSParts != c.parts || s.GatewayBytes != c.bytes || s.GatewayLMS != c.lms {
			t.Errorf("%q: %+v", c.text[:min(len(c.text), 12)], s)
		}
		if FitsOnePart(c.text) != (c.parts == 1 && !c.lms) {
			t.Errorf("%q: FitsOnePart %v", c.text[:min(len(c.text), 12)], FitsOnePart(c.text))
		}
	}
}

// The one-time code's SMS fits one part everywhere, in each language, at
// the longest validity the policy allows. (The notices' texts are held to
// the same in shared/notify.)
func TestCodeTextFitsOnePart(t *testing.T) {
	for _, lang := range []string{"ko", "en"} {
		for _, ttl := range []time.Duration{3 * time.Minute, otp.MaxCodeTTL} {
			text := identity.CodeText("123456", ttl, lang)
			if !FitsOnePart(text) || !strings.Contains(text, "123456") {
				t.Errorf("%s %v: %+v %q", lang, ttl, Measure(text), text)
			}
		}
	}
}
