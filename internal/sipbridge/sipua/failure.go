package sipua

import (
	"errors"
	"fmt"

	"github.com/dialq/dialq/internal/dialq"
)

// Errors callers branch on.
var (
	// ErrCanceled is what Answered returns when dialq hung up (Hangup,
	// or the context of Dial ending) before the callee answered.
	ErrCanceled = errors.New("sipua: call canceled before it was answered")
	// ErrClosed is what Start returns once the UA is closed.
	ErrClosed = errors.New("sipua: user agent closed")
)

// sipFailure maps a final SIP response of carrier to the failure the call
// records.
func sipFailure(carrier string, code int, status string) dialq.Failure {
	return dialq.SIPFailure(code, status, carrier)
}

// final is a failure that trying again will not change: the callee or the
// carrier answered.
func final(f dialq.Failure, err error) *dialq.StepError {
	return &dialq.StepError{Failure: f, Err: err}
}

// noAnswer is the failure of a call that rang for its whole ring time. code
// and status are the response to the INVITE once canceled (487), if any came.
func noAnswer(code int, status string) dialq.Failure {
	f := dialq.Failure{Reason: dialq.ReasonNoAnswer, SIPCode: code, SIPStatus: status,
		Message: "no answer within the ring time"}
	if code != 0 {
		f.Message = fmt.Sprintf("%s (SIP %d %s)", f.Message, code, status)
	}
	return f
}

// unreachable is the failure of an INVITE carrier never answered. Retry is
// true only when nothing at all came back, so the phone cannot have rung.
func unreachable(carrier string, gotResponse bool, err error) *dialq.StepError {
	return &dialq.StepError{
		Failure: dialq.Failure{Reason: dialq.ReasonCarrier, Message: carrier + " did not answer the INVITE"},
		Retry:   !gotResponse,
		Err:     err,
	}
}

// invalid is a dial request dialq itself got wrong; trying again will not help.
func invalid(reason dialq.FailureReason, err error) *dialq.StepError {
	return &dialq.StepError{Failure: dialq.Failure{Reason: reason, Message: err.Error()}, Err: err}
}
