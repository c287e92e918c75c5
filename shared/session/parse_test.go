package session

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// reference is the JWT library's parser with the options Issuer.parse
// stands for, and the key lookup it would be given: the answer parse
// must give, reason for reason.
func reference(iss *Issuer, token string) (tokenClaims, error) {
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(Audience),
		jwt.WithIssuer(IssuerName),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(iss.now),
		jwt.WithStrictDecoding(),
	)
	var tc tokenClaims
	_, err := p.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, _, ok := iss.key(kid); ok {
			return k, nil
		}
		return nil, errUnknownKey
	})
	if err != nil {
		return tokenClaims{}, reason(err)
	}
	return tc, nil
}

// reason maps a library error to one of our fixed reasons.
func reason(err error) error {
	switch {
	case errors.Is(err, errUnknownKey):
		return errUnknownKey
	case errors.Is(err, jwt.ErrTokenExpired):
		return errExpired
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return errSignature
	default:
		return errClaims
	}
}

// sameAnswer fails when parse and the library differ on a token.
func sameAnswer(t *testing.T, iss *Issuer, token string) {
	t.Helper()
	want, werr := reference(iss, token)
	got, gerr := iss.parse(token)
	if gerr != werr {
		t.Fatalf("token %q: parse says %v, the library %v", token, gerr, werr)
	}
	if gerr == nil && (got.Subject != want.Subject || got.VerificationID != want.VerificationID || got.ID != want.ID ||
		!sameDate(got.ExpiresAt, want.ExpiresAt) || !sameDate(got.IssuedAt, want.IssuedAt) || !sameDate(got.AuthTime, want.AuthTime)) {
		t.Fatalf("token %q: parse read %+v, the library %+v", token, got, want)
	}
}

func sameDate(a, b *jwt.NumericDate) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b.Time)
}

// edgeTokens are tokens bad in one way or in two, each way the parser
// can refuse one, signed with the ring's key unless a case says not.
func edgeTokens(t testing.TB) []string {
	seg := base64.RawURLEncoding.EncodeToString
	signed := func(header, claims string, key []byte) string {
		text := seg([]byte(header)) + "." + seg([]byte(claims))
		m, _ := jwt.SigningMethodHS256.Sign(text, key)
		return text + "." + base64.RawURLEncoding.EncodeToString(m)
	}
	now := t0.Unix()
	claims := func(extra string) string {
		return `{"vid":"v1","sub":"hk","jti":"j1","iss":"pccc","aud":"pccc-holder","iat":` + itoa(now) + `,"exp":` + itoa(now+600) + extra + `}`
	}
	hs := `{"alg":"HS256","kid":"k1","typ":"JWT"}`
	good := signed(hs, claims(""), key1)
	parts := strings.Split(good, ".")
	return []string{
		good,
		signed(hs, `{"vid":"v1","sub":"hk","jti":"j1","iss":"pccc","aud":["x","pccc-holder"],"iat":`+itoa(now)+`,"exp":`+itoa(now+600)+`}`, key1),
		"", ".", "..", "...", "a.b.c", parts[0] + "." + parts[1], good + ".", parts[0] + "." + parts[1] + ".",
		parts[0] + "=." + parts[1] + "." + parts[2], parts[0] + "." + parts[1] + "." + parts[2] + "A",
		signed(`{"alg":"HS512","kid":"k1"}`, claims(""), key1),
		signed(`{"alg":"none","kid":"k1"}`, claims(""), key1),
		signed(`{"alg":1,"kid":"k1"}`, claims(""), key1),
		signed(`{"kid":"k1"}`, claims(""), key1),
		signed(`null`, claims(""), key1),
		signed(`[]`, claims(""), key1),
		signed(`{"alg":"HS256","alg":"none","kid":"k1"}`, claims(""), key1),
		signed(`{"alg":"none","alg":"HS256","kid":"k1"}`, claims(""), key1),
		signed(`{"alg":"HS256","kid":"k9"}`, claims(""), key1),
		signed(`{"alg":"HS256","kid":5}`, claims(""), key1),
		signed(`{"alg":"HS256"}`, claims(""), key1),
		signed(hs, claims(""), keyX),
		signed(hs, `{"exp":"soon"}`, key1),
		signed(hs, `[1]`, key1),
		signed(`{"alg":"HS512","kid":"k1"}`, `[1]`, key1), // malformed claims and a wrong alg: malformed first
		signed(hs, claims(`,"nbf":`+itoa(now+60)), key1),
		signed(hs, claims(`,"nbf":`+itoa(now+2)), key1), // within the leeway
		signed(hs, `{"vid":"v1","sub":"hk","jti":"j1","iss":"pccc","aud":"pccc-holder","iat":`+itoa(now+60)+`,"exp":`+itoa(now+600)+`}`, key1),
		signed(hs, `{"vid":"v1","sub":"hk","jti":"j1","iss":"pccc","aud":"pccc-holder","iat":`+itoa(now)+`,"exp":`+itoa(now-3)+`}`, key1), // within the leeway
		signed(hs, `{"vid":"v1","sub":"hk","jti":"j1","iss":"pccc","aud":"pccc-holder","iat":`+itoa(now)+`,"exp":`+itoa(now-5)+`}`, key1), // at the leeway: expired
		signed(hs, `{"vid":"v1","sub":"hk","jti":"j1","iss":"other","aud":"x","iat":`+itoa(now)+`,"exp":`+itoa(now-60)+`}`, key1),         // expired and more
		signed(hs, `{"vid":"v1","sub":"hk","jti":"j1","iss":"pccc","aud":"","iat":`+itoa(now)+`,"exp":`+itoa(now+600)+`}`, key1),
		signed(hs, `{"vid":"v1","sub":"hk","jti":"j1","iss":"pccc","aud":[1],"iat":`+itoa(now)+`,"exp":`+itoa(now+600)+`}`, key1),
		signed(hs, `{"vid":"v1","sub":"hk","jti":"j1","aud":"pccc-holder","iat":`+itoa(now)+`,"exp":`+itoa(now+600)+`}`, key1),
		signed(hs, `{"vid":"v1","sub":"hk","jti":"j1","iss":"pccc","aud":"pccc-holder","exp":`+itoa(now+600)+`}`, key1),
		signed(hs, `{"vid":"v1","sub":"hk","jti":"j1","iss":"pccc","aud":"pccc-holder","iat":`+itoa(now)+`}`, key1),
		signed(hs, `{"vid":"v1","sub":"hk","jti":"j1","iss":"pccc","aud":"pccc-holder","iat":1.5e9,"exp":`+itoa(now)+`.9}`, key1),
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// parse answers every token as the library does: the same reason for
// each refusal (in the library's order when a token is bad twice), the
// same claims when it passes.
func TestParseAnswersAsTheLibrary(t *testing.T) {
	iss := newIssuer(t, map[string][]byte{"k1": key1}, "k1", &clock{t0})
	passed := 0
	for _, tok := range edgeTokens(t) {
		sameAnswer(t, iss, tok)
		if _, err := iss.parse(tok); err == nil {
			passed++
		}
	}
	// The cases that pass parse (Verify asks more of the claims): the
	// good token, the audience in a list, a header whose last alg is
	// HS256, nbf and expiry within the leeway, no iat, fractional times.
	if passed != 7 {
		t.Errorf("%d of the edge tokens passed, want 7", passed)
	}
	// And tokens the issuer mints, fresh, near expiry and past it.
	c := &clock{t0}
	iss = newIssuer(t, map[string][]byte{"k1": key1}, "k1", c)
	tok, _, err := iss.Issue(holderA, verID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, DefaultTTL - time.Second, DefaultTTL + Leeway - time.Millisecond, DefaultTTL + Leeway, time.Hour} {
		c.t = t0.Add(d)
		sameAnswer(t, iss, tok)
	}
}

// FuzzParse: on any token, parse gives the library's answer.
func FuzzParse(f *testing.F) {
	for _, tok := range edgeTokens(f) {
		f.Add(tok)
	}
	iss, err := New(map[string][]byte{"k1": key1}, "k1", time.Hour, func() time.Time { return t0 })
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if len(tok) > maxTokenLen {
			return
		}
		sameAnswer(t, iss, tok)
	})
}

// FuzzDecodeClaims: on any claims JSON, decodeClaims fails where
// encoding/json into tokenClaims (the library's types) fails, and reads
// the same claims where it does not.
func FuzzDecodeClaims(f *testing.F) {
	for _, s := range []string{
		`{"vid":"v","sub":"s","jti":"j","iss":"pccc","aud":"pccc-holder","iat":1764800000,"exp":1764800600.5,"auth_time":1764799999}`,
		`{"aud":["a","b"],"EXP":"1764800000","Sub":"x","nbf":null,"aud":null}`,
		`{"aud":[1],"exp":true}`, `{"iat":1e400}`, `null`, `[]`, `{"exp":{}}`, `{"aud":""}`,
		`{"ıss":"dotless","İat":1,"Kid":"kelvin",` + `"ſub":"long s","ſub":"x","ISS":"i","exp":"-0.5e+3","nbf":"","iat":" 1"}`, `{} {}`, `{}x`, ` null `,
		`{"aud":[null]}`, `{"aud":[]}`, `{"aud":["a"],"aud":null}`, `{"aud":{"a":1}}`, `{"vid":5}`, `{"jti":["x"]}`,
		`{"exp":01}`, `{"exp":"01"}`, `{"exp":"1.","x":[1,{"y":[]}]}`, "{\"sub\":\"\xff\xfe\",\"vid\":\"\\ud800\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want tokenClaims
		werr := json.Unmarshal(b, &want)
		var got tokenClaims
		gerr := decodeClaims(b, &got)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: decodeClaims %v, encoding/json %v", b, gerr, werr)
		}
		if werr != nil {
			return
		}
		if got.VerificationID != want.VerificationID || got.Subject != want.Subject || got.ID != want.ID || got.Issuer != want.Issuer ||
			!slices.Equal(got.Audience, want.Audience) || !sameDate(got.ExpiresAt, want.ExpiresAt) || !sameDate(got.IssuedAt, want.IssuedAt) ||
			!sameDate(got.NotBefore, want.NotBefore) || !sameDate(got.AuthTime, want.AuthTime) {
			t.Fatalf("%q:\ndecodeClaims  %+v\nencoding/json %+v", b, got, want)
		}
	})
}
