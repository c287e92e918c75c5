package openapi

import (
	"encoding/json"
	"maps"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/campaignapi"
	"github.com/pccc/pccc/shared/clearance"
	"github.com/pccc/pccc/shared/clearanceapi"
	"github.com/pccc/pccc/shared/codeapi"
	"github.com/pccc/pccc/shared/declaration"
	"github.com/pccc/pccc/shared/declarationapi"
	"github.com/pccc/pccc/shared/holder"
	"github.com/pccc/pccc/shared/httpapi"
	"github.com/pccc/pccc/shared/idempotency"
	"github.com/pccc/pccc/shared/identity"
	"github.com/pccc/pccc/shared/identityapi"
	"github.com/pccc/pccc/shared/otp"
	"github.com/pccc/pccc/shared/statsapi"
)

// The patterns in the document are meant to be the validators' rules: a
// value the server accepts must match its pattern, and where the pattern
// says everything the server checks (exact), a value that matches must be
// accepted. Each pattern is tried on its samples and on random strings
// over an alphabet that reaches its edges. The samples' white space is
// ASCII: JSON Schema's \s is ECMAScript's (Unicode spaces too), Go's is not.

// validIssue is an issue body every validator accepts; cases vary one field.
func validIssue() holder.IssueInput {
	s := func(v string) *string { return &v }
	yes := true
	return holder.IssueInput{
		EnglishName: s("HONG GILDONG"), Nationality: s("US"), Phone: s("01012345678"),
		Addresses: &[]holder.AddressInput{{Zip: s("04524"), Address: s("Sejong-daero 110")}}, Consent: &yes,
	}
}

// issueAccepts reports whether ValidateIssue takes the body with one field
// changed by set, judging only that field.
func issueAccepts(field string, set func(*holder.IssueInput, *string)) func(string) bool {
	return func(v string) bool {
		in := validIssue()
		set(&in, &v)
		_, err := holder.ValidateIssue(in)
		if err == nil {
			return true
		}
		_, bad := apperr.As(err).Fields[field]
		return !bad
	}
}

// checkAccepts reports whether clearance.Parse, the check's validator,
// takes a valid check with one field changed by set, judging only that
// field.
func checkAccepts(field string, set func(*clearance.Input, *string)) func(string) bool {
	return func(v string) bool {
		s := func(v string) *string { return &v }
		in := clearance.Input{Code: s("P247732688745"), Name: s("HONG GILDONG"), Phone: s("01012345678"), Zip: s("04524")}
		set(&in, &v)
		_, err := clearance.Parse(in)
		if err == nil {
			return true
		}
		_, bad := apperr.As(err).Fields[field]
		return !bad
	}
}

// goodsAccepts reports whether declaration.ParseGoods takes valid goods
// with one field changed by set, judging only that field.
func goodsAccepts(field string, set func(*declaration.Input, string)) func(string) bool {
	return func(v string) bool {
		w, c := "CJ1234567890", "USD"
		d, q := "socks", 1
		in := declaration.Input{Waybill: &w, Currency: &c, Value: json.RawMessage(`"1"`),
			Items: &[]declaration.ItemInput{{Description: &d, Quantity: &q}}}
		set(&in, v)
		_, err := declaration.ParseGoods(in)
		return err == nil || apperr.As(err).Fields[field] == ""
	}
}

// second drops a result, keeping the error.
func second[T any](_ T, err error) error { return err }

func TestPatternsMatchValidators(t *testing.T) {
	d := load(t)
	pattern := func(keys ...string) *regexp.Regexp {
		p, _ := at(t, map[string]any(d), append([]string{"components", "schemas"}, keys...)...).(string)
		re, err := regexp.Compile(p)
		if err != nil {
			t.Fatalf("%s: pattern %q does not compile: %v", strings.Join(keys, "."), p, err)
		}
		return re
	}
	digits := "0123456789"
	tests := []struct {
		name     string
		re       *regexp.Regexp
		accepts  func(string) bool
		exact    bool
		prefixes []string // random strings start with one of these, to reach valid values
		alphabet string
		samples  []string
	}{
		{
			name: "phone", re: pattern("Phone", "pattern"), exact: true,
			accepts:  func(s string) bool { _, err := otp.ParsePhone(s); return err == nil },
			prefixes: []string{"", "01", "010", "0 1", "-01"}, alphabet: digits + "- x",
			samples: []string{"01012345678", "010-1234-5678", "0101234567", "01112345678", "01212345678",
				"010123456789", "010 1234 5678", "  010-1234-5678  ", "+821012345678", "", "01-0"},
		},
		{
			name: "rrn", re: pattern("VerificationRequest", "properties", "rrn", "pattern"),
			accepts:  func(s string) bool { _, err := identity.ParseRRN(s); return err == nil },
			prefixes: []string{"900101", "000229", "991231"}, alphabet: digits + "- ",
			samples: []string{"900101-1234568", "9001011234568", " 900101-1234568 ", "900101--1234568", "900101-123456"},
		},
		{
			name: "birthDate", re: pattern("SendCodeRequest", "properties", "birthDate", "pattern"),
			accepts:  func(s string) bool { _, err := otp.ParseBirthDate(s); return err == nil },
			prefixes: []string{"19", "20", "1990"}, alphabet: digits + "-",
			samples: []string{"19900101", "1990-01-01", "19900230", "2000229"},
		},
		{
			name: "englishName", re: pattern("EnglishName", "pattern"),
			accepts:  issueAccepts("englishName", func(in *holder.IssueInput, v *string) { in.EnglishName = v }),
			alphabet: "ABab '-.1",
			samples:  []string{"HONG GILDONG", "hong  gildong", "O'NEIL", "JEAN-LUC", "-AB", "AB-", "A", "A B"},
		},
		{
			name: "koreanName", re: pattern("IssueRequest", "properties", "koreanName", "pattern"),
			accepts:  issueAccepts("koreanName", func(in *holder.IssueInput, v *string) { in.KoreanName = v }),
			alphabet: "홍길동 a",
			samples:  []string{"홍길동", "남궁 민수", "", " ", "홍", "ㅎㅗㅇ", "홍길동a"},
		},
		{
			name: "nationality", re: pattern("IssueRequest", "properties", "nationality", "pattern"), exact: true,
			accepts:  issueAccepts("nationality", func(in *holder.IssueInput, v *string) { in.Nationality = v }),
			alphabet: "KRkr1 ",
			samples:  []string{"KR", "kr", " US ", "KOR", "K", ""},
		},
		{
			name: "zip", re: pattern("AddressInput", "properties", "zip", "pattern"), exact: true,
			accepts: issueAccepts("addresses[0].zip", func(in *holder.IssueInput, v *string) {
				(*in.Addresses)[0].Zip = v
			}),
			alphabet: digits + " -",
			samples:  []string{"04524", " 04524 ", "0452", "045245", "04-524"},
		},
		{
			name: "check code", re: pattern("CheckRequest", "properties", "code", "pattern"), exact: true,
			accepts:  checkAccepts("code", func(in *clearance.Input, v *string) { in.Code = v }),
			prefixes: []string{"", "P", "P0123456789"}, alphabet: digits + "Pp -",
			samples: []string{"P247732688745", "P000000000000", "p247732688745", "P24773268874", "P2477326887450", " P247732688745", "P247732688745 ", "PP47732688745", "P2477-2688745", ""},
		},
		{
			name: "check zip", re: pattern("CheckRequest", "properties", "zip", "pattern"), exact: true,
			accepts:  checkAccepts("zip", func(in *clearance.Input, v *string) { in.Zip = v }),
			prefixes: []string{"", "123", " 045"}, alphabet: digits + " -",
			samples: []string{"04524", " 04524 ", "123-456", "123456", " 123-456 ", "0452", "1234567", "04-524", "1234-56", "123--456", "-12345", ""},
		},
		{
			name: "check phone", re: pattern("Phone", "pattern"), exact: true,
			accepts:  checkAccepts("phone", func(in *clearance.Input, v *string) { in.Phone = v }),
			prefixes: []string{"", "01", "010", "0 1", "-01"}, alphabet: digits + "- x",
			samples: []string{"01012345678", "010-1234-5678", "0101234567", "010123456789", "+821012345678", ""},
		},
		{
			name: "waybill", re: pattern("DeclarationRequest", "properties", "waybill", "pattern"), exact: true,
			accepts:  goodsAccepts("waybill", func(in *declaration.Input, v string) { in.Waybill = &v }),
			prefixes: []string{"", "CJ", " AB12"}, alphabet: "Ab9- \tı",
			samples: []string{"CJ1234567890", "cj-123456", " AB1234 ", "-AB1234", "AB12", strings.Repeat("A", 40), strings.Repeat("A", 41), "AB 1234", "ı23456"},
		},
		{
			name: "value", re: pattern("DeclarationRequest", "properties", "value", "pattern"),
			accepts: goodsAccepts("value", func(in *declaration.Input, v string) {
				b, _ := json.Marshal(v)
				in.Value = b
			}),
			prefixes: []string{"", "1", "0."}, alphabet: digits + ".-e ",
			samples: []string{"49.90", "1", "0.0001", "0", "0.00", "1.23456", "1234567890123", "123456789012.1234", "-1", "1e3", " 1", ".5", "5."},
		},
		{
			name: "currency", re: pattern("DeclarationRequest", "properties", "currency", "pattern"), exact: true,
			accepts:  goodsAccepts("currency", func(in *declaration.Input, v string) { in.Currency = &v }),
			alphabet: "UuSDK1 ",
			samples:  []string{"USD", "KRW", "usd", "US", "USDD", " USD"},
		},
		{
			name: "email", re: pattern("Email", "pattern"),
			accepts:  issueAccepts("email", func(in *holder.IssueInput, v *string) { in.Email = v }),
			alphabet: "ab@. ",
			samples:  []string{"hong@example.com", "", "a@b.c", "@b.c", "a@b", "a@.b", "a@b.", "a@@b.c", "a b@c.d", " a@b.c "},
		},
		{
			name: "Idempotency-Key", re: regexp.MustCompile(func() string {
				p, _ := at(t, map[string]any(d), "components", "parameters", "IdempotencyKey", "schema", "pattern").(string)
				return p
			}()), exact: true,
			accepts: func(s string) bool {
				if s == "" {
					return false // no key at all is not a key
				}
				_, err := idempotency.ParseKey(s)
				return err == nil
			},
			alphabet: "ab ~\x7f\x1f\té",
			samples:  []string{"7f1c2a9e-issue", strings.Repeat("k", 128), strings.Repeat("k", 129)},
		},
	}
	rng := rand.New(rand.NewPCG(6, 5))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			values := append([]string{}, tt.samples...)
			alpha := []rune(tt.alphabet)
			for i := 0; i < 3000; i++ {
				var b strings.Builder
				if len(tt.prefixes) > 0 {
					b.WriteString(tt.prefixes[rng.IntN(len(tt.prefixes))])
				}
				for n := rng.IntN(14); n > 0; n-- {
					b.WriteRune(alpha[rng.IntN(len(alpha))])
				}
				values = append(values, b.String())
			}
			accepted := 0
			for _, v := range values {
				ok, m := tt.accepts(v), tt.re.MatchString(v)
				if ok {
					accepted++
				}
				switch {
				case ok && !m:
					t.Errorf("the server accepts %q, the pattern %s refuses it", v, tt.re)
				case tt.exact && m && !ok:
					t.Errorf("the pattern %s matches %q, the server refuses it", tt.re, v)
				}
			}
			if accepted == 0 {
				t.Error("no value was accepted: the samples do not reach the valid ones")
			}
		})
	}
}

// The document's request examples are accepted by the endpoints' own
// decoders and validators.
func TestRequestExamplesAreAccepted(t *testing.T) {
	d := load(t)
	decoders := map[string]func(*httpapi.Request) error{
		"POST /v1/verifications": func(r *httpapi.Request) error {
			body, err := identityapi.DecodeVerificationRequest(r)
			if err != nil {
				return err
			}
			if _, err := identity.NormalizeName(*body.Name); err != nil {
				return err
			}
			_, err = identity.ParseRRN(*body.RRN)
			return err
		},
		"POST /v1/verifications/{id}/sms": func(r *httpapi.Request) error {
			var in identityapi.SendCodeRequest
			if err := httpapi.DecodeJSON(r, &in); err != nil {
				return err
			}
			if in.Carrier == nil || in.Phone == nil || in.BirthDate == nil || in.Sex == nil {
				return apperr.InvalidField("body", "a member is missing")
			}
			for _, err := range []error{
				second(otp.ParseCarrier(*in.Carrier)), second(otp.ParsePhone(*in.Phone)),
				second(otp.ParseBirthDate(*in.BirthDate)), second(otp.ParseSex(*in.Sex)),
			} {
				if err != nil {
					return err
				}
			}
			return nil
		},
		"POST /v1/verifications/{id}/confirm": func(r *httpapi.Request) error {
			var in identityapi.ConfirmRequest
			if err := httpapi.DecodeJSON(r, &in); err != nil {
				return err
			}
			// identity.PhoneStep.Confirm's own check, which needs a store to reach.
			if in.OTP == nil || !regexp.MustCompile(`^[0-9]{6}$`).MatchString(*in.OTP) {
				return apperr.InvalidField("otp", "must be 6 digits")
			}
			return nil
		},
		"POST /v1/codes":                func(r *httpapi.Request) error { return second(codeapi.DecodeIssue(r)) },
		"PATCH /v1/codes/me":            func(r *httpapi.Request) error { return second(codeapi.DecodeUpdate(r)) },
		"POST /v1/codes/me/reissue":     func(r *httpapi.Request) error { return second(codeapi.DecodeReason(r, true)) },
		"POST /v1/codes/me/suspend":     func(r *httpapi.Request) error { return second(codeapi.DecodeReason(r, false)) },
		"POST /v1/codes/me/cancel":      func(r *httpapi.Request) error { return second(codeapi.DecodeReason(r, false)) },
		"POST /v1/codes/me/resume":      codeapi.DecodeEmpty,
		"POST /v1/codes/me/renew":       codeapi.DecodeEmpty,
		"GET /v1/codes/me":              nil,
		identityapi.RouteRefreshSession: nil,
		"GET /v1/requests/{requestId}":  nil,
		clearanceapi.RouteCheck:         func(r *httpapi.Request) error { return second(clearanceapi.DecodeCheck(r)) },
		declarationapi.RouteFile:        func(r *httpapi.Request) error { return second(declarationapi.DecodeFile(r)) },
		declarationapi.RouteGet:         nil,
		declarationapi.RouteList:        nil,
		declarationapi.RouteConfirm:     declarationapi.DecodeEmpty,
		declarationapi.RouteDeny:        declarationapi.DecodeEmpty,
		declarationapi.RouteSetting:     nil,
		declarationapi.RouteSetSetting:  func(r *httpapi.Request) error { return second(declarationapi.DecodeSetting(r)) },
		clearanceapi.RouteHolderChecks:  nil,
		statsapi.RouteStats:             nil,
		Route:                           nil,
		campaignapi.RouteCreate:         func(r *httpapi.Request) error { return second(campaignapi.DecodeCreate(r, 50)) },
		campaignapi.RouteGet:            nil,
		campaignapi.RouteConfirm:        campaignapi.DecodeEmpty,
		campaignapi.RoutePause:          campaignapi.DecodeEmpty,
		campaignapi.RouteResume:         campaignapi.DecodeEmpty,
		campaignapi.RouteCancel:         campaignapi.DecodeEmpty,
	}
	for _, op := range d.operations(t) {
		decode, known := decoders[op.key]
		if !known {
			t.Errorf("%s: no decoder to try its example on; add it here", op.key)
			continue
		}
		media := obj(obj(obj(op.op["requestBody"])["content"])["application/json"])
		if decode == nil {
			if media != nil {
				t.Errorf("%s: the document has a request body, the endpoint reads none", op.key)
			}
			continue
		}
		example, ok := media["example"]
		if !ok {
			// Resume and renew: the example is no body at all.
			example = map[string]any{}
		}
		if err := decode(jsonRequest(example)); err != nil {
			t.Errorf("%s: the example %v is refused: %v", op.key, example, err)
		}
		// The schema's required members and its closed shape are the
		// decoder's: the example without a member the schema requires, or
		// with one the schema does not have, is refused as bad input.
		members, _ := example.(map[string]any)
		if members == nil {
			members = map[string]any{}
		}
		variants := map[string]map[string]any{"with an unknown member": maps.Clone(members)}
		variants["with an unknown member"]["unknownMember"] = true
		for _, r := range required(d.deref(t, media["schema"])) {
			without := maps.Clone(members)
			delete(without, r)
			variants["without "+r] = without
		}
		for what, v := range variants {
			if err := decode(jsonRequest(v)); err == nil || apperr.As(err).Code != apperr.Invalid {
				t.Errorf("%s: the example %s: %v, want INVALID_ARGUMENT", op.key, what, err)
			}
		}
	}
}

// jsonRequest is a request with v as its JSON body.
func jsonRequest(v any) *httpapi.Request {
	b, _ := json.Marshal(v)
	return &httpapi.Request{Event: events.APIGatewayV2HTTPRequest{Body: string(b),
		Headers: map[string]string{"content-type": "application/json"}}}
}
