// Package e2e holds the end-to-end tests: the whole system as `make run`
// serves it (the local runner reading template.yaml, functions invoked
// in-process with real API Gateway events) on each local stack that
// PCCC_TEST_STACKS names, driven over HTTP like a person or a broker would.
package e2e
