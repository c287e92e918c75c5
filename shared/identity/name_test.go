package identity

import (
	"strings"
	"testing"

	"github.com/pccc/pccc/shared/apperr"
)

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		key     string
		wantErr string
	}{
		{in: "HONG GILDONG", want: "HONG GILDONG", key: "HONGGILDONG"},
		{in: "  hong \t gildong\n", want: "HONG GILDONG", key: "HONGGILDONG"},
		{in: "HongGildong", want: "HONGGILDONG", key: "HONGGILDONG"},
		{in: "홍길동", want: "홍길동", key: "홍길동"},
		{in: " 홍 길동 ", want: "홍 길동", key: "홍길동"},
		{in: "\u1112\u1169\u11bc\u1100\u1175\u11af\u1103\u1169\u11bc", want: "홍길동", key: "홍길동"}, // conjoining jamo
		{in: "ＳＭＩＴＨ　ｊｏｈｎ", want: "SMITH JOHN", key: "SMITHJOHN"},                                // full-width, ideographic space
		{in: "Jean-Luc O'Neil Jr.", want: "JEAN-LUC O'NEIL JR.", key: "JEANLUCONEILJR"},
		{in: "NGUYEN THI LAN", want: "NGUYEN THI LAN", key: "NGUYENTHILAN"},
		{in: strings.Repeat("가", 100), want: strings.Repeat("가", 100), key: strings.Repeat("가", 100)},
		{in: "", wantErr: msgNameRequired},
		{in: "   \t", wantErr: msgNameRequired},
		{in: "HONG 2", wantErr: msgNameChars},
		{in: "홍길동1", wantErr: msgNameChars},
		{in: "HONG\x00GILDONG", wantErr: msgNameChars},
		{in: "HONG\u200bGILDONG", wantErr: msgNameChars}, // zero-width space
		{in: "JOSÉ", wantErr: msgNameChars},
		{in: "洪吉童", wantErr: msgNameChars},
		{in: "ㅎㄱㄷ", wantErr: msgNameChars}, // compatibility jamo are not a name
		{in: "<script>", wantErr: msgNameChars},
		{in: "- . '", wantErr: msgNameLetter},
		{in: strings.Repeat("가", 101), wantErr: msgNameLong},
		{in: strings.Repeat("A ", 51), wantErr: msgNameLong}, // 101 runes once spaced
		{in: strings.Repeat(" ", 2000) + "A", wantErr: msgNameLong},
		{in: "HONG\xffGILDONG", wantErr: msgNameUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeName(tt.in)
			if tt.wantErr != "" {
				e := apperr.As(err)
				if err == nil || e.Code != apperr.Invalid || e.Fields["name"] != tt.wantErr {
					t.Fatalf("NormalizeName = %q, %v; want name: %s", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want || NameKey(got) != tt.key {
				t.Fatalf("NormalizeName = %q (key %q), %v; want %q (%q)", got, NameKey(got), err, tt.want, tt.key)
			}
			// Normalising is idempotent.
			if again, err := NormalizeName(got); err != nil || again != got {
				t.Fatalf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}
