package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// initErrorType is the errorType a failed cold start reports to the
// Runtime API: Lambda logs it and answers the invocation that waited on
// the cold start with it.
const initErrorType = "Runtime.InitError"

// ReportInitError tells the Lambda Runtime API at api (the value of
// AWS_LAMBDA_RUNTIME_API, host:port) that the cold start failed, with the
// error's message, which names the setting or key that was missing, never
// its value. aws-lambda-go's runtime client has no call for this: it only
// knows invocations. Without the report Lambda sees a process that exited
// with no word why. An empty api (not running under Lambda) reports
// nothing.
func ReportInitError(ctx context.Context, api, function string, cause error) error {
	if api == "" {
		return nil
	}
	body, err := json.Marshal(struct {
		ErrorMessage string   `json:"errorMessage"`
		ErrorType    string   `json:"errorType"`
		StackTrace   []string `json:"stackTrace"`
	}{ErrorMessage: function + ": " + cause.Error(), ErrorType: initErrorType, StackTrace: []string{}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+api+"/2018-06-01/runtime/init/error", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Lambda-Runtime-Function-Error-Type", initErrorType)
	// The Runtime API is link-local: no proxy, whatever the environment says.
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("report init error: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("report init error: the Runtime API answered %d", resp.StatusCode)
	}
	return nil
}
