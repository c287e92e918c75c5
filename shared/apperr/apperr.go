// Package apperr owns the one error type the whole system speaks and the one
// table that turns its codes into HTTP statuses (API.md, "Errors").
//
// Adapters translate what they see (a DynamoDB condition failure, a dead
// bureau) into these codes; handlers return them; httpapi renders them. Any
// error that is not an *Error becomes INTERNAL, with nothing of its text sent
// to the client.
package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code is a machine-readable error class, exactly those of API.md.
type Code string

const (
	Invalid            Code = "INVALID_ARGUMENT"
	Unauthenticated    Code = "UNAUTHENTICATED"
	Forbidden          Code = "FORBIDDEN"
	PolicyDenied       Code = "POLICY_DENIED"
	NotFound           Code = "NOT_FOUND"
	Conflict           Code = "CONFLICT"
	VerificationFailed Code = "VERIFICATION_FAILED"
	TooManyAttempts    Code = "TOO_MANY_ATTEMPTS"
	RateLimited        Code = "RATE_LIMITED"
	Overloaded         Code = "OVERLOADED"
	Internal           Code = "INTERNAL"
)

// statuses is the single code-to-status table.
var statuses = map[Code]int{
	Invalid:            http.StatusBadRequest,
	Unauthenticated:    http.StatusUnauthorized,
	Forbidden:          http.StatusForbidden,
	PolicyDenied:       http.StatusForbidden,
	NotFound:           http.StatusNotFound,
	Conflict:           http.StatusConflict,
	VerificationFailed: http.StatusUnprocessableEntity,
	TooManyAttempts:    http.StatusTooManyRequests,
	RateLimited:        http.StatusTooManyRequests,
	Overloaded:         http.StatusServiceUnavailable,
	Internal:           http.StatusInternalServerError,
}

// Status returns the HTTP status for a code; unknown codes are 500.
func Status(c Code) int {
	if s, ok := statuses[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Codes lists every code, for tests that check the table is complete.
func Codes() []Code {
	return []Code{Invalid, Unauthenticated, Forbidden, PolicyDenied, NotFound, Conflict,
		VerificationFailed, TooManyAttempts, RateLimited, Overloaded, Internal}
}

// Limit names the bound a 429 hit: the error object's "limit" member. The
// code (RATE_LIMITED or TOO_MANY_ATTEMPTS) says how to behave; the limit
// says which bound, so a person is told "wait a minute" or "come back
// tomorrow" rather than guessing. A limit says only what the asker's own
// requests spent, never whether a person, phone or code exists.
type Limit string

// The bounds, by the route that answers them.
const (
	// POST /v1/verifications
	LimitAddressRate          Limit = "address-rate"            // checks from this client address a minute
	LimitNumberAddressFailure Limit = "number-address-failures" // failed checks of this number from this address an hour
	LimitNumberFailures       Limit = "number-failures"         // failed checks of this number today
	LimitPersonVerifications  Limit = "person-verifications"    // verifications opened for this person an hour
	// POST /v1/verifications/{id}/sms
	LimitResendCooldown     Limit = "resend-cooldown"     // a code was sent a moment ago
	LimitVerificationSends  Limit = "verification-sends"  // this verification sent all its codes
	LimitVerificationPhones Limit = "verification-phones" // failed phone checks on this verification
	LimitPersonPhones       Limit = "person-phones"       // failed phone checks for this person today
	LimitAddressPhones      Limit = "address-phones"      // failed phone checks from this client address an hour
	LimitPhoneCodes         Limit = "phone-codes"         // codes sent to this phone today
	// POST /v1/verifications/{id}/confirm (and the SMS step after them)
	LimitVerificationCodes Limit = "verification-codes" // wrong codes on this verification
	LimitPersonCodes       Limit = "person-codes"       // wrong codes for this person today
	// POST /v1/clearance/checks and declaration filings
	LimitKeyRate    Limit = "key-rate"    // checks with this API key a minute
	LimitCodeChecks Limit = "code-checks" // checks of this code an hour
)

// Limits lists every limit, for the tests that hold the API document to it.
func Limits() []Limit {
	return []Limit{LimitAddressRate, LimitNumberAddressFailure, LimitNumberFailures, LimitPersonVerifications,
		LimitResendCooldown, LimitVerificationSends, LimitVerificationPhones, LimitPersonPhones, LimitAddressPhones,
		LimitPhoneCodes, LimitVerificationCodes, LimitPersonCodes, LimitKeyRate, LimitCodeChecks}
}

// Limited is a 429 (code RATE_LIMITED or TOO_MANY_ATTEMPTS) naming the
// bound it hit, with the true wait until it has room again.
func Limited(code Code, limit Limit, message string, wait time.Duration) *Error {
	if Status(code) != http.StatusTooManyRequests {
		panic("apperr: Limited with a code that is not a 429: " + string(code))
	}
	return &Error{Code: code, Message: message, Limit: limit, RetryAfter: max(wait, time.Second)}
}

// Error is the application error. Message is safe to show a person and never
// carries personal data; Fields names bad input fields; RetryAfter becomes
// the Retry-After header; Details are extra members of the error object
// (such as attemptsLeft).
type Error struct {
	Code       Code
	Message    string
	Fields     map[string]string
	RetryAfter time.Duration
	Details    map[string]any
	// Limit is the bound a 429 hit (Limited).
	Limit Limit
	// Err is the underlying cause, for logs only; never sent to a client.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an error with a code and a client-safe message.
func New(code Code, message string) *Error { return &Error{Code: code, Message: message} }

// Wrap attaches a code and client-safe message to a cause kept for logs.
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// InvalidFields is a 400 naming each bad field.
func InvalidFields(fields map[string]string) *Error {
	return &Error{Code: Invalid, Message: "The request has invalid fields.", Fields: fields}
}

// InvalidField is a 400 naming one bad field.
func InvalidField(field, problem string) *Error {
	return InvalidFields(map[string]string{field: problem})
}

// WithRetryAfter returns e with a Retry-After hint.
func (e *Error) WithRetryAfter(d time.Duration) *Error {
	e.RetryAfter = d
	return e
}

// CodeOf returns the code of err, or Internal when err is not an *Error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns err as an *Error; anything else becomes an Internal error that
// keeps err as its cause.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: "Internal error.", Err: err}
}
