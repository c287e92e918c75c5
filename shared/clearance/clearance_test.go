package clearance

import (
	"strings"
	"testing"
	"time"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/holder"
)

func ptr(s string) *string { return &s }

func TestParse(t *testing.T) {
	good := func() Input {
		return Input{Code: ptr("P123456789012"), Name: ptr("hong  gil-dong"), Phone: ptr("010-1234-5678"), Zip: ptr("04524")}
	}
	q, err := Parse(good())
	if err != nil {
		t.Fatal(err)
	}
	if q != (Query{Code: "P123456789012", Name: "HONGGILDONG", Phone: "01012345678", Zip: "04524"}) {
		t.Fatalf("query %+v", q)
	}
	for _, tc := range []struct {
		name   string
		edit   func(*Input)
		fields []string
	}{
		{"all missing", func(in *Input) { *in = Input{} }, []string{"code", "name", "phone", "zip"}},
		{"code short", func(in *Input) { in.Code = ptr("P12345678901") }, []string{"code"}},
		{"code lower-case p", func(in *Input) { in.Code = ptr("p123456789012") }, []string{"code"}},
		{"code with spaces", func(in *Input) { in.Code = ptr(" P123456789012") }, []string{"code"}},
		{"code with a letter", func(in *Input) { in.Code = ptr("P12345678901X") }, []string{"code"}},
		{"name with digits", func(in *Input) { in.Name = ptr("R2D2") }, []string{"name"}},
		{"name empty", func(in *Input) { in.Name = ptr("  ") }, []string{"name"}},
		{"phone not mobile", func(in *Input) { in.Phone = ptr("02-123-4567") }, []string{"phone"}},
		{"phone with letters", func(in *Input) { in.Phone = ptr("010-CALL-ME") }, []string{"phone"}},
		{"zip 4 digits", func(in *Input) { in.Zip = ptr("0452") }, []string{"zip"}},
		{"zip 7 digits", func(in *Input) { in.Zip = ptr("0452411") }, []string{"zip"}},
		{"zip dash in the wrong place", func(in *Input) { in.Zip = ptr("04-524") }, []string{"zip"}},
		{"zip letters", func(in *Input) { in.Zip = ptr("ABCDE") }, []string{"zip"}},
		{"two bad", func(in *Input) { in.Zip, in.Phone = ptr(""), nil }, []string{"zip", "phone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := good()
			tc.edit(&in)
			_, err := Parse(in)
			e := apperr.As(err)
			if e.Code != apperr.Invalid || len(e.Fields) != len(tc.fields) {
				t.Fatalf("got %v, want 400 on %v", err, tc.fields)
			}
			for _, f := range tc.fields {
				if e.Fields[f] == "" {
					t.Errorf("no problem named for %s: %v", f, e.Fields)
				}
			}
			// The code's check digit is never judged: a wrong one is an
			// unknown code, answered like any other.
		})
	}
	in := good()
	in.Code = ptr("P123456789019")
	if _, err := Parse(in); err != nil {
		t.Errorf("a code with a wrong check digit was refused: %v", err)
	}
}

func TestParseZip(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"04524", "04524", true},
		{" 04524 ", "04524", true},
		{"123-456", "123456", true},
		{"123456", "123456", true},
		{"1234", "", false},
		{"12-3456", "", false},
		{"1234567", "", false},
		{"０４５２４", "", false}, // full-width digits
		{"", "", false},
	} {
		got, ok := ParseZip(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseZip(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLive(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	const code = "P123456789012"
	live := Standing{
		CodeFound: true, CodeLive: true, CodeOwner: "hk", HolderFound: true, HolderKey: "hk",
		HolderCode: code, HolderStatus: holder.Active, ExpiresAt: now.Add(time.Hour),
	}
	if !live.Live(code, now) {
		t.Fatal("a live code is not live")
	}
	for _, tc := range []struct {
		name string
		edit func(*Standing)
	}{
		{"unknown code", func(s *Standing) { *s = Standing{} }},
		{"code item missing", func(s *Standing) { s.CodeFound = false }},
		{"code retired", func(s *Standing) { s.CodeLive = false }},
		{"holder missing", func(s *Standing) { s.HolderFound = false }},
		{"code names another holder", func(s *Standing) { s.CodeOwner = "other" }},
		{"code names no holder", func(s *Standing) { s.CodeOwner, s.HolderKey = "", "" }},
		{"holder's current code is another", func(s *Standing) { s.HolderCode = "P999999999999" }},
		{"suspended", func(s *Standing) { s.HolderStatus = holder.Suspended }},
		{"cancelled", func(s *Standing) { s.HolderStatus = holder.Cancelled }},
		{"expired", func(s *Standing) { s.HolderStatus = holder.Expired }},
		{"past expiry, the daily job not yet run", func(s *Standing) { s.ExpiresAt = now }},
	} {
		s := live
		tc.edit(&s)
		if s.Live(code, now) {
			t.Errorf("%s: live", tc.name)
		}
	}
}

func TestJudge(t *testing.T) {
	reg := RegisteredOf(holder.Details{
		KoreanName: "홍길동", EnglishName: "HONG GIL-DONG", Phone: "01012345678",
		Addresses: []holder.Address{{Zip: "04524"}, {Zip: "06236"}},
	})
	foreigner := RegisteredOf(holder.Details{EnglishName: "SMITH JOHN", Phone: "01012345678", Addresses: []holder.Address{{Zip: "04524"}}})
	q := func(name, phone, zip string) Query {
		in := Input{Code: ptr("P123456789012"), Name: ptr(name), Phone: ptr(phone), Zip: ptr(zip)}
		out, err := Parse(in)
		if err != nil {
			t.Fatalf("parse %v: %v", in, err)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    Query
		live bool
		reg  Registered
		want string
	}{
		{"Korean name", q("홍길동", "01012345678", "04524"), true, reg, Match},
		{"Korean name spaced", q("홍 길동", "010-1234-5678", "04524"), true, reg, Match},
		{"English name, any case, no hyphen", q("hong gildong", "01012345678", "06236"), true, reg, Match},
		{"English name run together", q("HONGGILDONG", "010 1234 5678", "04524"), true, reg, Match},
		{"foreigner without a Korean name", q("Smith  John", "01012345678", "04524"), true, foreigner, Match},
		{"not live", q("홍길동", "01012345678", "04524"), false, reg, Mismatch},
		{"wrong name", q("홍길순", "01012345678", "04524"), true, reg, Mismatch},
		{"part of the name", q("길동", "01012345678", "04524"), true, reg, Mismatch},
		{"wrong phone", q("홍길동", "01012345679", "04524"), true, reg, Mismatch},
		{"wrong zip", q("홍길동", "01012345678", "04525"), true, reg, Mismatch},
		{"old 6-digit zip", q("홍길동", "01012345678", "045-245"), true, reg, Mismatch},
		{"nothing registered", q("홍길동", "01012345678", "04524"), true, Registered{}, Mismatch},
		{"name and phone swapped between holders", q("SMITH JOHN", "01012345678", "06236"), true, reg, Mismatch},
	} {
		if got := Judge(tc.q, tc.live, tc.reg); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	// More addresses than the slots compared: the first 20 count.
	many := holder.Details{KoreanName: "홍길동", Phone: "01012345678"}
	for i := range holder.MaxAddresses {
		many.Addresses = append(many.Addresses, holder.Address{Zip: strings.Repeat(string(rune('0'+i%10)), 5)})
	}
	many.Addresses[holder.MaxAddresses-1].Zip = "04524"
	if got := Judge(q("홍길동", "01012345678", "04524"), true, RegisteredOf(many)); got != Match {
		t.Errorf("the 20th address did not match")
	}
}
