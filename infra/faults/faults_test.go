package faults

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func upstream(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func post(t *testing.T, url, target string) (*http.Response, error) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	req.Header.Set("X-Amz-Target", target)
	return http.DefaultClient.Do(req)
}

func TestFaults(t *testing.T) {
	up, hits := upstream(t)
	for _, tc := range []struct {
		name    string
		rates   Rates
		target  string
		status  int
		hits    int32
		dropped bool
	}{
		{"pass through", Rates{}, "DynamoDB_20120810.GetItem", 200, 1, false},
		{"throttle dynamodb", Rates{Throttle: 1}, "DynamoDB_20120810.GetItem", 400, 0, false},
		{"throttle sqs", Rates{Throttle: 1}, "AmazonSQS.SendMessage", 400, 0, false},
		{"drop", Rates{Drop: 1}, "DynamoDB_20120810.GetItem", 0, 0, true},
		{"duplicate a send", Rates{Duplicate: 1}, "AmazonSQS.SendMessage", 200, 2, false},
		{"never duplicate a receive", Rates{Duplicate: 1}, "AmazonSQS.ReceiveMessage", 200, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits.Store(0)
			p := New(up.URL, tc.rates, 7)
			url, stop, err := p.Start()
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			resp, err := post(t, url, tc.target)
			if tc.dropped {
				if err == nil {
					t.Fatalf("a dropped connection answered %d", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || hits.Load() != tc.hits {
				t.Fatalf("status %d, upstream hits %d: %s", resp.StatusCode, hits.Load(), body)
			}
			if tc.status == 400 && !strings.Contains(string(body), "ThrottlingException") {
				t.Fatalf("throttle body %s", body)
			}
		})
	}
}
