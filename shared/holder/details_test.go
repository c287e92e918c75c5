package holder

import (
	"encoding/json"

	"reflect"
	"strings"
	"testing"

	"github.com/pccc/pccc/shared/apperr"
)

func sp(s string) *string { return &s }
func bp(b bool) *bool     { return &b }

func goodIssue() IssueInput {
	return IssueInput{
		EnglishName: sp("  hong   gildong "), KoreanName: sp("홍길동"), Nationality: sp("kr"),
		Addresses: &[]AddressInput{{Zip: sp("04524"), Address: sp("서울특별시 중구 세종대로 110"), Detail: sp(" 3층  ")}},
		Phone:     sp("010-1234-5678"), Email: sp("Hong@Example.COM"), Consent: bp(true),
	}
}

func TestValidateIssueNormalises(t *testing.T) {
	d, err := ValidateIssue(goodIssue())
	if err != nil {
		t.Fatal(err)
	}
	want := Details{
		KoreanName: "홍길동", EnglishName: "HONG GILDONG", Nationality: "KR",
		Addresses: []Address{{Zip: "04524", Address: "서울특별시 중구 세종대로 110", Detail: "3층"}},
		Phone:     "01012345678", Email: "Hong@example.com",
	}
	if !reflect.DeepEqual(d, want) {
		t.Fatalf("got %+v\nwant %+v", d, want)
	}
	back, err := DetailsFromFields(d.Fields())
	if err != nil || !reflect.DeepEqual(back, d) {
		t.Fatalf("fields round trip: %+v %v", back, err)
	}
}

func TestValidateIssueNamesEveryBadField(t *testing.T) {
	many := make([]AddressInput, MaxAddresses+1)
	for i := range many {
		many[i] = AddressInput{Zip: sp("04524"), Address: sp("x")}
	}
	for _, tc := range []struct {
		name   string
		edit   func(*IssueInput)
		fields []string
	}{
		{"empty", func(in *IssueInput) { *in = IssueInput{} }, []string{"englishName", "nationality", "addresses", "phone", "consent"}},
		{"no consent", func(in *IssueInput) { in.Consent = bp(false) }, []string{"consent"}},
		{"digits in name", func(in *IssueInput) { in.EnglishName = sp("HONG 2") }, []string{"englishName"}},
		{"one letter", func(in *IssueInput) { in.EnglishName = sp("H") }, []string{"englishName"}},
		{"latin korean name", func(in *IssueInput) { in.KoreanName = sp("Hong") }, []string{"koreanName"}},
		{"korean without korean name", func(in *IssueInput) { in.KoreanName = nil }, []string{"koreanName"}},
		{"bad nationality", func(in *IssueInput) { in.Nationality = sp("KOR") }, []string{"nationality"}},
		{"no addresses", func(in *IssueInput) { in.Addresses = &[]AddressInput{} }, []string{"addresses"}},
		{"21 addresses", func(in *IssueInput) { in.Addresses = &many }, []string{"addresses"}},
		{"old zip", func(in *IssueInput) { (*in.Addresses)[0].Zip = sp("100-011") }, []string{"addresses[0].zip"}},
		{"missing address", func(in *IssueInput) {
			in.Addresses = &[]AddressInput{{Zip: sp("04524"), Address: sp("a")}, {Zip: sp("04524")}}
		}, []string{"addresses[1].address"}},
		{"control character", func(in *IssueInput) { (*in.Addresses)[0].Detail = sp("a\x00b") }, []string{"addresses[0].detail"}},
		{"landline", func(in *IssueInput) { in.Phone = sp("0212345678") }, []string{"phone"}},
		{"bad email", func(in *IssueInput) { in.Email = sp("a@b") }, []string{"email"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := goodIssue()
			in.Addresses = &[]AddressInput{{Zip: sp("04524"), Address: sp("서울"), Detail: sp("3층")}}
			tc.edit(&in)
			_, err := ValidateIssue(in)
			e := apperr.As(err)
			if e.Code != apperr.Invalid {
				t.Fatalf("%v, want 400", err)
			}
			var got []string
			for f := range e.Fields {
				got = append(got, f)
			}
			if len(got) != len(tc.fields) {
				t.Fatalf("fields %v, want %v", e.Fields, tc.fields)
			}
			for _, f := range tc.fields {
				if e.Fields[f] == "" {
					t.Errorf("field %s not named: %v", f, e.Fields)
				}
			}
		})
	}
}

func TestForeignerNeedsNoKoreanName(t *testing.T) {
	in := goodIssue()
	in.Nationality, in.KoreanName, in.EnglishName = sp("VN"), nil, sp("Nguyen Thi Lan")
	d, err := ValidateIssue(in)
	if err != nil || d.KoreanName != "" || d.EnglishName != "NGUYEN THI LAN" {
		t.Fatalf("%+v %v", d, err)
	}
	if _, ok := d.Fields()[FieldKoreanName]; ok {
		t.Error("an empty Korean name became a field")
	}
}

func TestValidateUpdate(t *testing.T) {
	if _, err := ValidateUpdate(UpdateInput{}); apperr.As(err).Fields["body"] == "" {
		t.Fatalf("empty patch: %v", err)
	}
	got, err := ValidateUpdate(UpdateInput{Phone: sp("01099998888"), Email: sp("")})
	if err != nil || !reflect.DeepEqual(got, map[string]string{"phone": "01099998888", "email": ""}) {
		t.Fatalf("%v %v", got, err)
	}
	got, err = ValidateUpdate(UpdateInput{Addresses: &[]AddressInput{{Zip: sp("12345"), Address: sp("a")}}})
	if err != nil || got["addresses"] != `[{"zip":"12345","address":"a"}]` {
		t.Fatalf("%v %v", got, err)
	}
	_, err = ValidateUpdate(UpdateInput{EnglishName: sp("X1"), Phone: sp("1")})
	if f := apperr.As(err).Fields; f["englishName"] == "" || f["phone"] == "" {
		t.Fatalf("%v", err)
	}
}

// FuzzValidateIssue feeds arbitrary JSON bodies through decoding and
// validation: the result is details that validate again to themselves, or
// a 400 naming fields, never anything else, and no message repeats input.
func FuzzValidateIssue(f *testing.F) {
	b, _ := json.Marshal(goodIssue())
	f.Add(string(b))
	f.Add(`{"englishName":"A B","nationality":"US","addresses":[{"zip":"12345","address":"x"}],"phone":"01012345678","consent":true}`)
	f.Add(`{"addresses":[{}, null],"consent":false,"email":"@"}`)
	f.Fuzz(func(t *testing.T, body string) {
		var in IssueInput
		if json.Unmarshal([]byte(body), &in) != nil {
			return
		}
		d, err := ValidateIssue(in)
		if err != nil {
			e := apperr.As(err)
			if e.Code != apperr.Invalid || len(e.Fields) == 0 {
				t.Fatalf("%q: %v", body, err)
			}
			for _, m := range e.Fields {
				if len(body) > 8 && strings.Contains(m, body) {
					t.Fatalf("message repeats the body")
				}
			}
			return
		}
		again, err := ValidateIssue(reissueInput(d))
		if err != nil || !reflect.DeepEqual(again, d) {
			t.Fatalf("%q: details %+v do not validate to themselves: %+v %v", body, d, again, err)
		}
	})
}

func FuzzValidateUpdate(f *testing.F) {
	f.Add(`{"phone":"010 1234 5678","email":""}`)
	f.Add(`{"addresses":[{"zip":"00000","address":"a","detail":"b"}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		var in UpdateInput
		if json.Unmarshal([]byte(body), &in) != nil {
			return
		}
		out, err := ValidateUpdate(in)
		if err != nil {
			if e := apperr.As(err); e.Code != apperr.Invalid || len(e.Fields) == 0 {
				t.Fatalf("%q: %v", body, err)
			}
			return
		}
		if len(out) == 0 {
			t.Fatalf("%q: accepted with nothing to change", body)
		}
		for k := range out {
			switch k {
			case FieldEnglishName, FieldAddresses, FieldPhone, FieldEmail:
			default:
				t.Fatalf("%q: changes %s", body, k)
			}
		}
	})
}

func reissueInput(d Details) IssueInput {
	in := IssueInput{EnglishName: sp(d.EnglishName), Nationality: sp(d.Nationality), Phone: sp(d.Phone), Consent: bp(true)}
	if d.KoreanName != "" {
		in.KoreanName = sp(d.KoreanName)
	}
	if d.Email != "" {
		in.Email = sp(d.Email)
	}
	list := make([]AddressInput, len(d.Addresses))
	for i, a := range d.Addresses {
		list[i] = AddressInput{Zip: sp(a.Zip), Address: sp(a.Address)}
		if a.Detail != "" {
			list[i].Detail = sp(a.Detail)
		}
	}
	in.Addresses = &list
	return in
}

// Stored addresses read as encoding/json reads them: whatever it takes,
// DetailsFromFields takes the same.
func FuzzStoredAddresses(f *testing.F) {
	f.Add(`[{"zip":"06236","address":"서울특별시 강남구 테헤란로 123","detail":"4층"}]`)
	f.Add(`[{"ZIP":"1","Address":"a","zip":"2"},null,{}]`)
	f.Add("[{\"address\":\"a\xffb\"}]")
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, stored string) {
		var want []Address
		if err := json.Unmarshal([]byte(stored), &want); err != nil {
			return
		}
		d, err := DetailsFromFields(map[string]string{FieldAddresses: stored})
		if err != nil {
			t.Fatalf("%q: encoding/json reads it, DetailsFromFields: %v", stored, err)
		}
		if !reflect.DeepEqual(d.Addresses, want) {
			t.Fatalf("%q: %#v, encoding/json %#v", stored, d.Addresses, want)
		}
	})
}
