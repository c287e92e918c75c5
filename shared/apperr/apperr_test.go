package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
)

func TestStatusTableMatchesAPI(t *testing.T) {
	want := map[Code]int{
		"INVALID_ARGUMENT": 400, "UNAUTHENTICATED": 401, "FORBIDDEN": 403,
		"POLICY_DENIED": 403, "NOT_FOUND": 404, "CONFLICT": 409,
		"VERIFICATION_FAILED": 422, "TOO_MANY_ATTEMPTS": 429, "RATE_LIMITED": 429,
		"OVERLOADED": 503, "INTERNAL": 500,
	}
	if len(Codes()) != len(want) {
		t.Fatalf("Codes() has %d codes, API.md lists %d", len(Codes()), len(want))
	}
	for _, c := range Codes() {
		if got := Status(c); got != want[c] {
			t.Errorf("Status(%s) = %d, want %d", c, got, want[c])
		}
	}
	if Status("SOMETHING_ELSE") != http.StatusInternalServerError {
		t.Error("unknown code must be 500")
	}
}

func TestAsKeepsCodeThroughWrapping(t *testing.T) {
	base := InvalidField("rrn", "bad")
	wrapped := fmt.Errorf("context: %w", base)
	if CodeOf(wrapped) != Invalid {
		t.Fatalf("CodeOf(wrapped) = %s", CodeOf(wrapped))
	}
	plain := errors.New("dynamo exploded")
	e := As(plain)
	if e.Code != Internal || e.Message != "Internal error." || !errors.Is(e, plain) {
		t.Fatalf("As(plain) = %#v", e)
	}
}

func TestLimitedIsA429NamingItsBound(t *testing.T) {
	e := Limited(TooManyAttempts, LimitPersonPhones, "Too many.", 0)
	if Status(e.Code) != http.StatusTooManyRequests || e.Limit != LimitPersonPhones || e.RetryAfter <= 0 {
		t.Fatalf("%#v", e)
	}
	seen := map[Limit]bool{}
	for _, l := range Limits() {
		if l == "" || seen[l] {
			t.Fatalf("limit %q empty or listed twice", l)
		}
		seen[l] = true
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Limited took a code that is not a 429")
		}
	}()
	Limited(VerificationFailed, LimitPersonPhones, "x", 0)
}
