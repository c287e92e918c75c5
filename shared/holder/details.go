package holder

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/pccc/pccc/shared/apperr"
	"github.com/pccc/pccc/shared/otp"
)

// MaxAddresses is how many delivery addresses a holder may register
// (DOMAIN.md, June 2025 rules).
const MaxAddresses = 20

// Address is one delivery address.
type Address struct {
	Zip     string `json:"zip"`
	Address string `json:"address"`
	Detail  string `json:"detail,omitempty"`
}

// Details are the holder's registered personal details. They are personal
// data: sealed field by field before they are stored or queued.
type Details struct {
	KoreanName  string
	EnglishName string
	Nationality string
	Addresses   []Address
	Phone       string
	Email       string
	// Language is the one the holder's notices are sent in: "en" for
	// English, else Korean ("" or "ko"). Chosen at issue, changed with the
	// details.
	Language string
}

// Personal field names, as stored (each sealed on its own) and as API.md
// names them.
const (
	FieldKoreanName  = "koreanName"
	FieldEnglishName = "englishName"
	FieldNationality = "nationality"
	FieldAddresses   = "addresses"
	FieldPhone       = "phone"
	FieldEmail       = "email"
	FieldLanguage    = "language"
)

// FieldAAD is the associated data a holder's field is sealed under (AES-GCM,
// shared/sealer): where the value lives, HOLDER#<holder key>#<field>, so a
// value copied to another holder or field does not open. Whoever seals or
// opens a holder's field (the API, the lookup, the clearance check, the SMS
// sender) names it with this.
func FieldAAD(holderKey, field string) string { return "HOLDER#" + holderKey + "#" + field }

// Fields returns the details as field name -> plain value (addresses as a
// JSON list), leaving out fields that are empty.
func (d Details) Fields() map[string]string {
	out := map[string]string{}
	put := func(k, v string) {
		if v != "" {
			out[k] = v
		}
	}
	put(FieldKoreanName, d.KoreanName)
	put(FieldEnglishName, d.EnglishName)
	put(FieldNationality, d.Nationality)
	if d.Addresses != nil {
		b, _ := json.Marshal(d.Addresses)
		out[FieldAddresses] = string(b)
	}
	put(FieldPhone, d.Phone)
	put(FieldEmail, d.Email)
	put(FieldLanguage, d.Language)
	return out
}

// DetailsFromFields is the inverse of Fields.
func DetailsFromFields(f map[string]string) (Details, error) {
	d := Details{
		KoreanName: f[FieldKoreanName], EnglishName: f[FieldEnglishName], Nationality: f[FieldNationality],
		Phone: f[FieldPhone], Email: f[FieldEmail], Language: f[FieldLanguage],
	}
	if a, ok := f[FieldAddresses]; ok {
		// Every lookup reads them: the JSON v2 package, about half
		// encoding/json's time, read as leniently.
		if err := jsonv2.Unmarshal([]byte(a), &d.Addresses, storedOptions); err != nil {
			return Details{}, fmt.Errorf("holder: stored addresses: %w", err)
		}
	}
	return d, nil
}

// storedOptions read stored addresses as encoding/json would: names in any
// case, a repeated name's last value, invalid UTF-8 replaced.
var storedOptions = jsonv2.JoinOptions(jsonv2.MatchCaseInsensitiveNames(true), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// AddressInput is an address as a client sends it.
type AddressInput struct {
	Zip     *string `json:"zip"`
	Address *string `json:"address"`
	Detail  *string `json:"detail"`
}

// IssueInput is the body of POST /v1/codes. Pointers tell a missing field
// from an empty one.
type IssueInput struct {
	EnglishName *string         `json:"englishName"`
	KoreanName  *string         `json:"koreanName"`
	Nationality *string         `json:"nationality"`
	Addresses   *[]AddressInput `json:"addresses"`
	Phone       *string         `json:"phone"`
	Email       *string         `json:"email"`
	Consent     *bool           `json:"consent"`
	Language    *string         `json:"language"`
}

// UpdateInput is the body of PATCH /v1/codes/me: any of these fields.
type UpdateInput struct {
	EnglishName *string         `json:"englishName"`
	Addresses   *[]AddressInput `json:"addresses"`
	Phone       *string         `json:"phone"`
	Email       *string         `json:"email"`
	Language    *string         `json:"language"`
}

// Messages; none repeats the input.
const (
	msgRequired    = "is required"
	msgLanguage    = `must be "ko" or "en"`
	msgEnglishName = "must be 2-100 Latin letters, with spaces, hyphens or apostrophes between them"
	msgKoreanName  = "must be 2-30 Hangul syllables (spaces allowed between them)"
	msgKoreanReq   = "is required for Korean nationals"
	msgNationality = "must be a two-letter ISO 3166 country code such as KR"
	msgAddresses   = "must list 1-20 addresses"
	msgZip         = "must be a 5-digit postal code"
	msgAddress     = "must be 1-200 characters with no control characters"
	msgDetail      = "must be at most 200 characters with no control characters"
	msgEmail       = "must be an e-mail address of at most 254 characters"
	msgConsent     = "must be true: the code cannot be issued without consent to the use of these details"
	msgNothing     = "must name at least one of englishName, addresses, phone, email"
)

// ValidateIssue checks an issue body and returns the normalised details.
// Every bad field is named in one 400.
func ValidateIssue(in IssueInput) (Details, error) {
	bad := map[string]string{}
	var d Details
	if in.Nationality == nil {
		bad[FieldNationality] = msgRequired
	} else if n, ok := nationality(*in.Nationality); ok {
		d.Nationality = n
	} else {
		bad[FieldNationality] = msgNationality
	}
	if in.EnglishName == nil {
		bad[FieldEnglishName] = msgRequired
	} else if n, ok := englishName(*in.EnglishName); ok {
		d.EnglishName = n
	} else {
		bad[FieldEnglishName] = msgEnglishName
	}
	switch {
	case in.KoreanName != nil && *in.KoreanName != "":
		if n, ok := koreanName(*in.KoreanName); ok {
			d.KoreanName = n
		} else {
			bad[FieldKoreanName] = msgKoreanName
		}
	case d.Nationality == "KR":
		bad[FieldKoreanName] = msgKoreanReq
	}
	if in.Addresses == nil {
		bad[FieldAddresses] = msgRequired
	} else {
		d.Addresses = addresses(*in.Addresses, bad)
	}
	if in.Phone == nil {
		bad[FieldPhone] = msgRequired
	} else if p, err := otp.ParsePhone(*in.Phone); err == nil {
		d.Phone = p
	} else {
		bad[FieldPhone] = apperr.As(err).Fields["phone"]
	}
	if in.Email != nil && *in.Email != "" {
		if e, ok := email(*in.Email); ok {
			d.Email = e
		} else {
			bad[FieldEmail] = msgEmail
		}
	}
	if in.Consent == nil || !*in.Consent {
		bad["consent"] = msgConsent
	}
	if in.Language != nil {
		if l, ok := language(*in.Language); ok {
			d.Language = l
		} else {
			bad[FieldLanguage] = msgLanguage
		}
	}
	if len(bad) > 0 {
		return Details{}, apperr.InvalidFields(bad)
	}
	return d, nil
}

// ValidateUpdate checks a PATCH body and returns the changed fields,
// normalised, as Details.Fields would hold them. An email sent as "" is
// removed: the field maps to "".
func ValidateUpdate(in UpdateInput) (map[string]string, error) {
	bad := map[string]string{}
	out := map[string]string{}
	if in.EnglishName == nil && in.Addresses == nil && in.Phone == nil && in.Email == nil && in.Language == nil {
		return nil, apperr.InvalidField("body", msgNothing)
	}
	if in.EnglishName != nil {
		if n, ok := englishName(*in.EnglishName); ok {
			out[FieldEnglishName] = n
		} else {
			bad[FieldEnglishName] = msgEnglishName
		}
	}
	if in.Addresses != nil {
		list := addresses(*in.Addresses, bad)
		if list != nil {
			out[FieldAddresses] = Details{Addresses: list}.Fields()[FieldAddresses]
		}
	}
	if in.Phone != nil {
		if p, err := otp.ParsePhone(*in.Phone); err == nil {
			out[FieldPhone] = p
		} else {
			bad[FieldPhone] = apperr.As(err).Fields["phone"]
		}
	}
	if in.Language != nil {
		if l, ok := language(*in.Language); ok {
			out[FieldLanguage] = l
		} else {
			bad[FieldLanguage] = msgLanguage
		}
	}
	if in.Email != nil {
		if *in.Email == "" {
			out[FieldEmail] = ""
		} else if e, ok := email(*in.Email); ok {
			out[FieldEmail] = e
		} else {
			bad[FieldEmail] = msgEmail
		}
	}
	if len(bad) > 0 {
		return nil, apperr.InvalidFields(bad)
	}
	return out, nil
}

func nationality(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return "", false
	}
	return s, true
}

// englishName upper-cases and collapses spaces: "Hong  gildong" and
// "HONG GILDONG" are one name, as on a passport.
func englishName(s string) (string, bool) {
	if len(s) > 400 {
		return "", false
	}
	words := strings.Fields(s)
	n := strings.ToUpper(strings.Join(words, " "))
	if len(n) < 2 || len(n) > 100 {
		return "", false
	}
	for _, w := range strings.Split(n, " ") {
		if w[0] < 'A' || w[0] > 'Z' || w[len(w)-1] < 'A' || w[len(w)-1] > 'Z' {
			return "", false
		}
		for j := 0; j < len(w); j++ {
			c := w[j]
			if (c < 'A' || c > 'Z') && c != '-' && c != '\'' {
				return "", false
			}
		}
	}
	return n, true
}

func koreanName(s string) (string, bool) {
	if len(s) > 400 || !utf8.ValidString(s) {
		return "", false
	}
	n := strings.Join(strings.Fields(s), " ")
	count := 0
	for _, r := range n {
		if r == ' ' {
			continue
		}
		if r < 0xAC00 || r > 0xD7A3 { // Hangul syllables
			return "", false
		}
		count++
	}
	if count < 2 || count > 30 {
		return "", false
	}
	return n, true
}

func addresses(in []AddressInput, bad map[string]string) []Address {
	if len(in) == 0 || len(in) > MaxAddresses {
		bad[FieldAddresses] = msgAddresses
		return nil
	}
	out := make([]Address, 0, len(in))
	ok := true
	for i, a := range in {
		field := fmt.Sprintf("addresses[%d].", i)
		var x Address
		if a.Zip == nil {
			bad[field+"zip"], ok = msgRequired, false
		} else if z, good := zip(*a.Zip); good {
			x.Zip = z
		} else {
			bad[field+"zip"], ok = msgZip, false
		}
		if a.Address == nil {
			bad[field+"address"], ok = msgRequired, false
		} else if t, good := text(*a.Address, 1, 200); good {
			x.Address = t
		} else {
			bad[field+"address"], ok = msgAddress, false
		}
		if a.Detail != nil {
			if t, good := text(*a.Detail, 0, 200); good {
				x.Detail = t
			} else {
				bad[field+"detail"], ok = msgDetail, false
			}
		}
		out = append(out, x)
	}
	if !ok {
		return nil
	}
	return out
}

// zip accepts the 5-digit postal code in use since 2015.
func zip(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) != 5 {
		return "", false
	}
	for i := 0; i < 5; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

// text trims and collapses white space and refuses control characters and
// invalid UTF-8; lengths count characters.
func text(s string, lo, hi int) (string, bool) {
	if len(s) > hi*4+64 || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return "", false
		}
	}
	t := strings.Join(strings.Fields(s), " ")
	if n := utf8.RuneCountInString(t); n < lo || n > hi {
		return "", false
	}
	return t, true
}

func email(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 3 || len(s) > 254 || !utf8.ValidString(s) {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || strings.Count(s, "@") != 1 {
		return "", false
	}
	domain := s[at+1:]
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
		return "", false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || unicode.IsSpace(r) {
			return "", false
		}
	}
	return s[:at] + "@" + strings.ToLower(domain), true
}

// language is a notice language as stored: "ko" or "en".
func language(s string) (string, bool) {
	return s, s == "ko" || s == "en"
}
