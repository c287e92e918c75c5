package awsclient

import (
	"bytes"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// maxOneWrite is the largest request body sent in one write with its
// headers: every DynamoDB and SQS call of ours is far below it; an S3
// upload of an export is above and streams as before.
const maxOneWrite = 64 << 10

// oneWrite is the SDK's HTTP client, handing net/http each small request
// body as an in-memory reader. net/http writes the headers of a body it
// cannot see into (the SDK's request stream) in a write of their own
// before the body, so every call cost two writes to the socket, and the
// server two reads; with the body in memory they go out in one. On this
// kind of machine a write to a socket is 10-15 µs of the caller's
// processor time, on every call of every function.
type oneWrite struct{ next aws.HTTPClient }

func (t oneWrite) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength <= 0 || req.ContentLength > maxOneWrite {
		return t.next.Do(req)
	}
	body := make([]byte, req.ContentLength)
	_, err := io.ReadFull(req.Body, body)
	// The client closes the body it is given, whatever happens; the one
	// read here is done with. (The SDK rewinds its own stream for a retry
	// and builds a new request around it.)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	r := new(http.Request)
	*r = *req
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return t.next.Do(r)
}
