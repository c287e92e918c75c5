package awsclient

import "testing"

// Only endpoints on this machine become local options; anything else is
// left to the SDK (in AWS, its own endpoints).
func TestLocalFromEnv(t *testing.T) {
	env := map[string]string{
		"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000",
		"AWS_ENDPOINT_URL_SQS":      "http://localhost:9324",
		"AWS_ENDPOINT_URL_S3":       "https://s3.example.com",
	}
	o := LocalFromEnv("ap-northeast-2", func(k string) string { return env[k] })
	if o.Region != "ap-northeast-2" || o.DynamoDBEndpoint != "http://127.0.0.1:8000" || o.SQSEndpoint != "http://localhost:9324" || o.S3Endpoint != "" {
		t.Errorf("options %+v", o)
	}
	for ep, want := range map[string]bool{"http://[::1]:1": true, "http://10.0.0.1": false, "127.0.0.1:8000": false, "": false} {
		if Loopback(ep) != want {
			t.Errorf("Loopback(%q) = %v", ep, !want)
		}
	}
}
