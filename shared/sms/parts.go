package sms

import (
	"strings"
	"unicode/utf16"
)

// What one message costs on each provider it may go through. An SMS that
// does not fit one part is billed as several (AWS) or becomes an LMS, a
// dearer kind of message (Korean gateways); SMS is nearly all of this
// system's bill, so every text is written to fit one part on both.
const (
	// GSM7Single and UCS2Single are one AWS part: 160 GSM-7 characters, or
	// 70 UTF-16 units once the text holds anything outside GSM-7 (Hangul).
	GSM7Single = 160
	UCS2Single = 70
	// gsm7Multi and ucs2Multi are a part of a longer message (the rest
	// carries the concatenation header).
	gsm7Multi = 153
	ucs2Multi = 67
	// GatewaySMSBytes is one SMS on a Korean gateway, counted as EUC-KR
	// does: ASCII one byte, Hangul (and any other character) two. Past it
	// the message is an LMS.
	GatewaySMSBytes = 90
)

// gsm7Basic is GSM 03.38's basic character set (one septet each);
// gsm7Extended are those that take an escape and count twice.
const (
	gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Extended = "^{}\\[~]|€\f"
)

// Size is how a text is carried on each provider.
type Size struct {
	GSM7 bool // all of it in GSM-7 (else UCS-2 on AWS)
	// Units is its length in the encoding AWS uses: septets (extended
	// characters twice) or UTF-16 units.
	Units int
	// AWSParts is what AWS bills it as.
	AWSParts int
	// GatewayBytes is its EUC-KR-style length on a Korean gateway;
	// GatewayLMS, whether that makes it an LMS there.
	GatewayBytes int
	GatewayLMS   bool
}

// Measure sizes a text for both providers.
func Measure(text string) Size {
	s := Size{GSM7: true}
	for _, r := range text {
		switch {
		case strings.ContainsRune(gsm7Basic, r):
			s.Units++
		case strings.ContainsRune(gsm7Extended, r):
			s.Units += 2
		default:
			s.GSM7 = false
		}
		if r < 0x80 {
			s.GatewayBytes++
		} else {
			s.GatewayBytes += 2
		}
	}
	single, multi := GSM7Single, gsm7Multi
	if !s.GSM7 {
		s.Units = len(utf16.Encode([]rune(text)))
		single, multi = UCS2Single, ucs2Multi
	}
	s.AWSParts = 1
	if s.Units > single {
		s.AWSParts = (s.Units + multi - 1) / multi
	}
	s.GatewayLMS = s.GatewayBytes > GatewaySMSBytes
	return s
}

// FitsOnePart reports whether text is one SMS part on every provider the
// sender may use: one AWS part and no LMS on a Korean gateway.
func FitsOnePart(text string) bool {
	s := Measure(text)
	return s.AWSParts == 1 && !s.GatewayLMS
}

// Parts is what the text costs on the provider kind ("sns": AWS parts;
// "http", a Korean gateway: 1 for an SMS, 0 for an LMS, which is billed
// as one message of another kind; see Fact.LMS).
func partsOn(provider, text string) (parts int, lms bool) {
	s := Measure(text)
	if provider == ProviderGateway {
		return 1, s.GatewayLMS
	}
	return s.AWSParts, false
}
