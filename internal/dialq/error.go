package dialq

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. They are few on purpose: each maps to one HTTP status in the
// HTTP layer, and callers branch on them with ErrorCode.
const (
	EINVALID      = "invalid"            // the request breaks a rule; Fields says which
	ETOOLARGE     = "too_large"          // the request body is over the size limit
	EMETHOD       = "method_not_allowed" // the endpoint exists, but not for this HTTP method
	EUNAUTHORIZED = "unauthorized"       // missing, malformed or unknown credentials
	ENOTFOUND     = "not_found"          // the thing does not exist for this tenant
	ECONFLICT     = "conflict"           // the request clashes with stored state
	ECALLFAILED   = "call_failed"        // the phone side ended the call (busy, no answer, ...)
	EUPSTREAM     = "upstream"           // the carrier or the SIP trunk failed the call
	EUNAVAILABLE  = "unavailable"        // a dependency (LiveKit, the bridge, the queue) is down
	EINTERNAL     = "internal"           // a bug or an unexpected failure; details are logged, not shown
)

// FieldError names one field of a request and the rule it breaks.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is an error a user can be shown. Anything that is not an *Error is
// treated as EINTERNAL and its text is never returned to a client.
type Error struct {
	Code    string
	Message string
	// Fields lists every bad field of an EINVALID error, in request order.
	Fields []FieldError
	// Err is the cause, for logs and errors.Is; it is never shown to users.
	Err error
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("dialq error: code=%s message=%s: %v", e.Code, e.Message, e.Err)
	}
	if len(e.Fields) == 0 {
		return fmt.Sprintf("dialq error: code=%s message=%s", e.Code, e.Message)
	}
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return fmt.Sprintf("dialq error: code=%s message=%s (%s)", e.Code, e.Message, strings.Join(parts, "; "))
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL
// for any other error and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err. Errors that are not an
// *Error give a generic text so internal details never leak.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Message
	}
	return "Internal error."
}

// ErrorFields returns the field errors of an EINVALID error, or nil.
func ErrorFields(err error) []FieldError {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Fields
	}
	return nil
}
