package awsclient

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// seen is the next client: it keeps the request it was given.
type seen struct{ req *http.Request }

func (s *seen) Do(r *http.Request) (*http.Response, error) {
	s.req = r
	return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
}

// stream is a body net/http cannot see into, as the SDK's is; it records
// whether it was closed.
type stream struct {
	io.Reader
	closed bool
}

func (s *stream) Close() error { s.closed = true; return nil }

// isInMemory is what net/http asks of a body before writing the headers
// and the body together.
func isInMemory(r io.Reader) bool {
	switch r.(type) {
	case *bytes.Reader, *bytes.Buffer, *strings.Reader:
		return true
	}
	return false
}

func TestOneWriteHandsSmallBodiesInMemory(t *testing.T) {
	next := &seen{}
	rt := oneWrite{next: next}
	body := `{"TableName":"pccc","Key":{"PK":{"S":"HOLDER#a"}}}`
	s := &stream{Reader: strings.NewReader(body)}
	req, _ := http.NewRequest("POST", "http://127.0.0.1:1/", nil)
	req.Body, req.ContentLength = s, int64(len(body))
	if _, err := rt.Do(req); err != nil {
		t.Fatal(err)
	}
	got := next.req
	if got == req || req.Body != s {
		t.Fatal("the caller's request was changed instead of copied")
	}
	if !s.closed {
		t.Error("the stream read was not closed")
	}
	if b, _ := io.ReadAll(got.Body); string(b) != body {
		t.Errorf("body handed on %q, want %q", b, body)
	}
	if rc, err := got.GetBody(); err != nil {
		t.Fatal(err)
	} else if b, _ := io.ReadAll(rc); string(b) != body {
		t.Errorf("GetBody gives %q", b)
	}
	for _, rc := range []io.ReadCloser{got.Body, must(got.GetBody())} {
		if r := unwrapNop(t, rc); !isInMemory(r) {
			t.Errorf("the body handed on holds a %T, not a reader net/http knows is in memory", r)
		}
	}
}

func TestOneWriteLeavesOtherBodiesAlone(t *testing.T) {
	for _, tt := range []struct {
		name   string
		length int64
	}{{"unknown length", -1}, {"larger than one write", maxOneWrite + 1}, {"empty", 0}} {
		t.Run(tt.name, func(t *testing.T) {
			next := &seen{}
			s := &stream{Reader: strings.NewReader("x")}
			req, _ := http.NewRequest("PUT", "http://127.0.0.1:1/", nil)
			req.Body, req.ContentLength = s, tt.length
			if _, err := (oneWrite{next: next}).Do(req); err != nil {
				t.Fatal(err)
			}
			if next.req != req || req.Body != s || s.closed {
				t.Error("the request was not handed on as it was")
			}
		})
	}
}

func TestOneWriteShortBodyFails(t *testing.T) {
	next := &seen{}
	s := &stream{Reader: strings.NewReader("short")}
	req, _ := http.NewRequest("POST", "http://127.0.0.1:1/", nil)
	req.Body, req.ContentLength = s, 100
	_, err := (oneWrite{next: next}).Do(req)
	if !errors.Is(err, io.ErrUnexpectedEOF) || next.req != nil || !s.closed {
		t.Fatalf("a body shorter than its length: err %v, sent %v, closed %v", err, next.req != nil, s.closed)
	}
}

// unwrapNop is the reader inside io.NopCloser's, as net/http finds it.
func unwrapNop(t *testing.T, rc io.ReadCloser) io.Reader {
	t.Helper()
	v := reflect.ValueOf(rc)
	if v.Kind() != reflect.Struct || v.NumField() != 1 {
		t.Fatalf("%T is not io.NopCloser's", rc)
	}
	return v.Field(0).Interface().(io.Reader)
}

func must(rc io.ReadCloser, err error) io.ReadCloser {
	if err != nil {
		panic(err)
	}
	return rc
}
