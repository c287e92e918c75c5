package platform

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A failed cold start reaches the Runtime API's init error with the
// message naming what was missing.
func TestReportInitError(t *testing.T) {
	var got struct {
		path, errType string
		body          map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.path, got.errType = r.Method+" "+r.URL.Path, r.Header.Get("Lambda-Runtime-Function-Error-Type")
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got.body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	api := strings.TrimPrefix(srv.URL, "http://")
	if err := ReportInitError(context.Background(), api, "codeissue", errors.New("configuration: TABLE_NAME is required")); err != nil {
		t.Fatal(err)
	}
	if got.path != "POST /2018-06-01/runtime/init/error" || got.errType != initErrorType {
		t.Errorf("posted %s with type %q", got.path, got.errType)
	}
	if got.body["errorMessage"] != "codeissue: configuration: TABLE_NAME is required" || got.body["errorType"] != initErrorType {
		t.Errorf("body %v", got.body)
	}
	// Not under Lambda: nothing to report to.
	if err := ReportInitError(context.Background(), "", "codeissue", errors.New("x")); err != nil {
		t.Errorf("no Runtime API: %v", err)
	}
	// A Runtime API that refuses the report is an error the caller logs.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) }))
	defer refuse.Close()
	if err := ReportInitError(context.Background(), strings.TrimPrefix(refuse.URL, "http://"), "codeissue", errors.New("x")); err == nil {
		t.Error("a 403 from the Runtime API went unreported")
	}
}
