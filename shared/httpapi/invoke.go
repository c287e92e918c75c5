package httpapi

import (
	"context"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Invoke makes a LambdaHandler a lambda.Handler: the Lambda runtime hands
// it the event's bytes and posts the bytes it returns. aws-lambda-go would
// otherwise decode the event with encoding/json by reflection, the
// largest single cost of a call in this process beside the SDK's
// (DecodeEvent: go test -bench EventDecode ./shared/httpapi/). The response is
// written as aws-lambda-go writes it (encoding/json, HTML left as it is, no
// newline at the end), by AppendResponse.
func (h LambdaHandler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ev, err := DecodeEvent(payload)
	if err != nil {
		return nil, err
	}
	resp, err := h(ctx, ev)
	if err != nil {
		return nil, err
	}
	n := 96 + len(resp.Body)
	for k, v := range resp.Headers {
		n += len(k) + len(v) + 6
	}
	return AppendResponse(make([]byte, 0, n), resp), nil
}

// AppendResponse appends the response's JSON as aws-lambda-go writes it
// (encoding/json, HTML left as it is, map keys in order, no newline),
// without reflection: FuzzAppendResponse holds the two to the same bytes.
func AppendResponse(b []byte, r events.APIGatewayV2HTTPResponse) []byte {
	b = append(b, `{"statusCode":`...)
	b = strconv.AppendInt(b, int64(r.StatusCode), 10)
	b = append(b, `,"headers":`...)
	b = appendObject(b, r.Headers, appendString)
	b = append(b, `,"multiValueHeaders":`...)
	b = appendObject(b, r.MultiValueHeaders, appendStrings)
	b = append(b, `,"body":`...)
	b = appendString(b, r.Body)
	if r.IsBase64Encoded {
		b = append(b, `,"isBase64Encoded":true`...)
	}
	b = append(b, `,"cookies":`...)
	b = appendStrings(b, r.Cookies)
	return append(b, '}')
}

// appendObject appends m as encoding/json writes a map: null when nil,
// else its members in the byte order of their names, each value written
// by value.
func appendObject[V any](b []byte, m map[string]V, value func([]byte, V) []byte) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var arr [16]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, k), ':')
		b = value(b, m[k])
	}
	return append(b, '}')
}

func appendStrings(b []byte, list []string) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendString quotes s as encoding/json does with HTML escaping off:
// quote and backslash escaped, control characters as \b, \f, \n, \r, \t
// or \u00XX, each invalid UTF-8 byte as \ufffd, and U+2028 and U+2029
// escaped (JavaScript ends a line at them).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
