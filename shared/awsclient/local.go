package awsclient

import (
	"net"
	"net/url"
)

// LocalFromEnv is the Options of a process pointed at a local stack by the
// SDK's own variables (AWS_ENDPOINT_URL_DYNAMODB, _SQS, _S3, _KMS), as a built
// bootstrap is by the built-binary test and make bench: the endpoints that
// are on this machine become explicit ones, so the clients get awsclient's
// local settings (path-style S3, no response checksums the emulators do not
// send, static credentials). An endpoint elsewhere, or none, is left to the
// SDK.
func LocalFromEnv(region string, getenv func(string) string) Options {
	o := Options{Region: region}
	if ep := getenv("AWS_ENDPOINT_URL_DYNAMODB"); Loopback(ep) {
		o.DynamoDBEndpoint = ep
	}
	if ep := getenv("AWS_ENDPOINT_URL_SQS"); Loopback(ep) {
		o.SQSEndpoint = ep
	}
	if ep := getenv("AWS_ENDPOINT_URL_S3"); Loopback(ep) {
		o.S3Endpoint = ep
	}
	if ep := getenv("AWS_ENDPOINT_URL_KMS"); Loopback(ep) {
		o.KMSEndpoint = ep
	}
	return o
}

// Loopback says whether endpoint is a URL of this machine.
func Loopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return false
	}
	h := u.Hostname()
	ip := net.ParseIP(h)
	return h == "localhost" || (ip != nil && ip.IsLoopback())
}
