package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/pccc/pccc/shared/jsonfold"
)

// DecodeEvent decodes an API Gateway payload-2.0 event as encoding/json
// decodes it into events.APIGatewayV2HTTPRequest, which is how
// aws-lambda-go decodes a handler's event, but by walking its values
// instead of by reflection: every API call pays it (go test -bench
// EventDecode ./shared/httpapi/). TestDecodeEventAsEncodingJSON and
// FuzzDecodeEvent hold the two to the same events. As encoding/json:
// names match exactly or folded (package jsonfold); a repeated name's last
// value wins, and a repeated object is read into what the first one left;
// invalid UTF-8 in strings is replaced; null leaves a string, a number, a
// bool or an object as it was, empties a map, a list or the authorizer,
// and is "" in a map or a list; anything of the wrong type is an error, as
// is anything after the event. The authorizer, which API Gateway only
// sends to a route with an authorizer (ours have none), goes to
// encoding/json itself.
func DecodeEvent(payload []byte) (events.APIGatewayV2HTTPRequest, error) {
	var ev events.APIGatewayV2HTTPRequest
	d := eventDecoders.Get().(*eventDecoder)
	defer eventDecoders.Put(d)
	d.r.Reset(payload)
	d.dec.Reset(&d.r, eventOptions)
	if err := d.object(func(name []byte) error { return d.topMember(&ev, name) }); err != nil {
		return events.APIGatewayV2HTTPRequest{}, err
	}
	if _, err := d.dec.ReadValue(); err != io.EOF {
		if err == nil {
			err = errEventType
		}
		return events.APIGatewayV2HTTPRequest{}, err
	}
	return ev, nil
}

// eventOptions read JSON as encoding/json does: a repeated name allowed,
// invalid UTF-8 in strings replaced rather than refused.
var eventOptions = jsonv2.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// errEventType is a member of the wrong JSON type; the runtime refuses
// such an event, as encoding/json does.
var errEventType = errors.New("httpapi: an event member of the wrong type")

// eventDecoder is a decoder kept between events (a pool of them), with
// room to unquote a string that has escapes or invalid UTF-8.
type eventDecoder struct {
	r        bytes.Reader
	dec      jsontext.Decoder
	scratch  []byte
	interned [256]string // intern's
}

var eventDecoders = sync.Pool{New: func() any { return new(eventDecoder) }}

// The event's members, by name, in the order the decoder's switches number
// them.
var (
	topNames = jsonfold.NewFields("version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
		"queryStringParameters", "pathParameters", "requestContext", "stageVariables", "body", "isBase64Encoded")
	contextNames = jsonfold.NewFields("routeKey", "accountId", "stage", "requestId", "authorizer", "apiId",
		"domainName", "domainPrefix", "time", "timeEpoch", "http", "authentication")
	httpNames     = jsonfold.NewFields("method", "path", "protocol", "sourceIp", "userAgent")
	authNames     = jsonfold.NewFields("clientCert")
	certNames     = jsonfold.NewFields("clientCertPem", "issuerDN", "serialNumber", "subjectDN", "validity")
	validityNames = jsonfold.NewFields("notAfter", "notBefore")
)

func (d *eventDecoder) topMember(ev *events.APIGatewayV2HTTPRequest, name []byte) error {
	switch jsonfold.Index(topNames, name) {
	case 0:
		return d.str(&ev.Version)
	case 1:
		return d.str(&ev.RouteKey)
	case 2:
		return d.str(&ev.RawPath)
	case 3:
		return d.str(&ev.RawQueryString)
	case 4:
		return d.strs(&ev.Cookies)
	case 5:
		return d.strMap(&ev.Headers)
	case 6:
		return d.strMap(&ev.QueryStringParameters)
	case 7:
		return d.strMap(&ev.PathParameters)
	case 8:
		c := &ev.RequestContext
		return d.object(func(name []byte) error { return d.contextMember(c, name) })
	case 9:
		return d.strMap(&ev.StageVariables)
	case 10:
		return d.str(&ev.Body)
	case 11:
		return d.boolean(&ev.IsBase64Encoded)
	}
	return d.dec.SkipValue()
}

func (d *eventDecoder) contextMember(c *events.APIGatewayV2HTTPRequestContext, name []byte) error {
	switch jsonfold.Index(contextNames, name) {
	case 0:
		return d.str(&c.RouteKey)
	case 1:
		return d.str(&c.AccountID)
	case 2:
		return d.str(&c.Stage)
	case 3:
		return d.str(&c.RequestID)
	case 4:
		v, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		return json.Unmarshal(v, &c.Authorizer)
	case 5:
		return d.str(&c.APIID)
	case 6:
		return d.str(&c.DomainName)
	case 7:
		return d.str(&c.DomainPrefix)
	case 8:
		return d.str(&c.Time)
	case 9:
		return d.int64(&c.TimeEpoch)
	case 10:
		h := &c.HTTP
		return d.strFields(httpNames, &h.Method, &h.Path, &h.Protocol, &h.SourceIP, &h.UserAgent)
	case 11:
		// API Gateway's mTLS certificate: empty, but written in full by
		// every encoder of the event struct.
		cert := &c.Authentication.ClientCert
		return d.object(func(name []byte) error {
			if jsonfold.Index(authNames, name) < 0 {
				return d.dec.SkipValue()
			}
			return d.object(func(name []byte) error {
				switch i := jsonfold.Index(certNames, name); i {
				case -1:
					return d.dec.SkipValue()
				case 4:
					v := &cert.Validity
					return d.strFields(validityNames, &v.NotAfter, &v.NotBefore)
				default:
					return d.str([...]*string{&cert.ClientCertPem, &cert.IssuerDN, &cert.SerialNumber, &cert.SubjectDN}[i])
				}
			})
		})
	}
	return d.dec.SkipValue()
}

// strFields reads an object whose members are all strings: each into the
// field of dst at its name's index in fields; null leaves them as they were.
func (d *eventDecoder) strFields(fields *jsonfold.Fields, dst ...*string) error {
	return d.object(func(name []byte) error {
		if i := jsonfold.Index(fields, name); i >= 0 {
			return d.str(dst[i])
		}
		return d.dec.SkipValue()
	})
}

// object reads an object member by member: member gets each name (good
// until the next read) and reads its value; null leaves the struct as it
// was.
func (d *eventDecoder) object(member func(name []byte) error) error {
	v, err := d.dec.ReadToken()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
		return nil
	case '{':
	default:
		return errEventType
	}
	for d.dec.PeekKind() != '}' {
		name, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		if err := member(d.unquote(name)); err != nil {
			return err
		}
	}
	_, err = d.dec.ReadToken()
	return err
}

// unquote is a JSON string's text, invalid UTF-8 replaced; good until the
// next read.
func (d *eventDecoder) unquote(v jsontext.Value) []byte {
	if body := v[1 : len(v)-1]; bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return body
	}
	// The error says only that invalid UTF-8 was replaced.
	d.scratch, _ = jsontext.AppendUnquote(d.scratch[:0], v)
	return d.scratch
}

// text reads a string value; null is ok but no string; any other kind is
// an error.
func (d *eventDecoder) text() (s []byte, ok bool, err error) {
	v, err := d.dec.ReadValue()
	if err != nil {
		return nil, false, err
	}
	switch v.Kind() {
	case '"':
		return d.unquote(v), true, nil
	case 'n':
		return nil, false, nil
	}
	return nil, false, errEventType
}

// str reads a string; null leaves it as it was.
func (d *eventDecoder) str(dst *string) error {
	s, ok, err := d.text()
	if ok {
		*dst = d.intern(s)
	}
	return err
}

// boolean reads true or false; null leaves it as it was.
func (d *eventDecoder) boolean(dst *bool) error {
	return d.scalar("tf", func(v jsontext.Value) error {
		*dst = v.Kind() == 't'
		return nil
	})
}

// int64 reads a number written as a whole int64 (no fraction or exponent),
// as encoding/json requires of an int64; null leaves it as it was.
func (d *eventDecoder) int64(dst *int64) error {
	return d.scalar("0", func(v jsontext.Value) error {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return errEventType
		}
		*dst = n
		return nil
	})
}

// scalar reads a value of one of the kinds (jsontext.Kind's letters) with
// set; null leaves the field as it was, another kind is an error.
func (d *eventDecoder) scalar(kinds string, set func(jsontext.Value) error) error {
	v, err := d.dec.ReadValue()
	switch {
	case err != nil:
		return err
	case v.Kind() == 'n':
		return nil
	case !strings.ContainsRune(kinds, rune(v.Kind())):
		return errEventType
	}
	return set(v)
}

// strMap reads an object of strings into the map, made when nil (so a
// repeated member adds to the first); null empties it, a null value is "".
func (d *eventDecoder) strMap(dst *map[string]string) error {
	switch d.dec.PeekKind() {
	case 'n':
		*dst = nil
	case '{':
		if *dst == nil {
			*dst = make(map[string]string, 16)
		}
	}
	m := *dst
	return d.object(func(name []byte) error {
		key := d.intern(name) // before the next read reuses name
		s, _, err := d.text()
		if err == nil {
			m[key] = d.intern(s)
		}
		return err
	})
}

// strs reads a list of strings into the slice's own array, as
// encoding/json does: a null element keeps what that place of the array
// held; an empty list is an empty slice, null none.
func (d *eventDecoder) strs(dst *[]string) error {
	v, err := d.dec.ReadToken()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
		*dst = nil
		return nil
	case '[':
	default:
		return errEventType
	}
	s, n := *dst, 0
	for d.dec.PeekKind() != ']' {
		if n < cap(s) {
			s = s[:n+1]
		} else {
			s = append(s[:n], "")
		}
		text, ok, err := d.text()
		if err != nil {
			return err
		}
		if ok {
			s[n] = d.intern(text)
		}
		n++
	}
	if _, err := d.dec.ReadToken(); err != nil {
		return err
	}
	if n == 0 {
		s = []string{}
	}
	*dst = s[:n]
	return nil
}

// intern is b as a string: one the decoder made for an earlier event when
// b is short and was seen lately (header names, methods, routes, the
// caller's address: most of an event repeats from call to call), else a
// new one kept for the next events. As encoding/json/v2 does.
func (d *eventDecoder) intern(b []byte) string {
	if len(b) > maxInterned {
		return string(b)
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &d.interned[h%uint32(len(d.interned))]
	if *slot != string(b) {
		*slot = string(b)
	}
	return *slot
}

// maxInterned is the longest string intern keeps: a route key or a
// timestamp, not a token.
const maxInterned = 40
