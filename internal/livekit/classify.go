package livekit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dialq/dialq/internal/dialq"
)

func retry(reason dialq.FailureReason, msg string, err error) *dialq.StepError {
	return &dialq.StepError{Failure: dialq.Failure{Reason: reason, Message: msg}, Retry: true, Err: err}
}

func final(f dialq.Failure, err error) *dialq.StepError {
	return &dialq.StepError{Failure: f, Err: err}
}

// classify sorts an error of a room, dispatch or participant request: what
// may pass (LiveKit down or slow) is retried, what will not is final.
func classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return retry(dialq.ReasonLiveKit, "LiveKit did not answer in time", err)
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return retry(dialq.ReasonLiveKit, "LiveKit is unreachable", err)
	}
	code := errorCode(err)
	switch code {
	case twirp.Unauthenticated, twirp.PermissionDenied:
		return final(dialq.Failure{Reason: dialq.ReasonLiveKit,
			Message: "LiveKit rejected dialq's API key or secret"}, err)
	case twirp.InvalidArgument, twirp.NotFound, twirp.AlreadyExists, twirp.FailedPrecondition,
		twirp.OutOfRange, twirp.Unimplemented, twirp.Malformed, twirp.BadRoute:
		return final(dialq.Failure{Reason: dialq.ReasonInternal,
			Message: fmt.Sprintf("LiveKit refused the request (%s)", code)}, err)
	default:
		return retry(dialq.ReasonLiveKit, fmt.Sprintf("LiveKit is unavailable (%s)", code), err)
	}
}

// classifyDial sorts an error of CreateSIPParticipant. The SIP service
// reports the phone's answer as a gRPC status carrying the SIP code, which
// decides the outcome; nothing the phone answered is ever retried.
func classifyDial(ctx context.Context, err error) error {
	if st := lksdk.SIPStatusFrom(err); st != nil {
		return final(sipFailure(int(st.Code), st.Status), err)
	}
	code := errorCode(err)
	switch {
	case code == twirp.Canceled && ctx.Err() == nil:
		// The SIP service gave up: the phone rang for the whole ring time.
		return final(dialq.Failure{Reason: dialq.ReasonNoAnswer, SIPCode: 487,
			SIPStatus: "Request Terminated", Message: "no answer within the ring time"}, err)
	case code == twirp.NotFound:
		return final(dialq.Failure{Reason: dialq.ReasonTrunk,
			Message: "the LiveKit SIP trunk does not exist"}, err)
	case code == twirp.InvalidArgument:
		return final(dialq.Failure{Reason: dialq.ReasonTrunk,
			Message: "LiveKit refused the dial request: " + errorMsg(err)}, err)
	case notPlaced(err):
		se := retry(dialq.ReasonLiveKit, "LiveKit's SIP service is unavailable", err)
		se.NotPlaced = true
		return se
	}
	return classify(ctx, err)
}

// notPlaced reports whether err is an answer of LiveKit's SIP service that
// it sent no INVITE: it is over its CPU limit ("cpu exhausted") or no SIP
// service answered ("no response from servers", "sip not connected"), its
// phone participant could not join the room ("update room failed": livekit-sip
// joins the room before it dials), or the connection to LiveKit was never
// made. A timeout, a cut connection or a 5xx of a proxy may come after the
// INVITE left, so they are not.
func notPlaced(err error) bool {
	if oe, ok := errors.AsType[*net.OpError](err); ok {
		return oe.Op == "dial"
	}
	if te, ok := errors.AsType[twirp.Error](err); ok && te.Meta("http_error_from_intermediary") != "" {
		return false
	}
	msg := errorMsg(err)
	return errorCode(err) == twirp.Unavailable ||
		strings.Contains(msg, "sip not connected") || strings.Contains(msg, "update room failed")
}

// sipFailure maps a final SIP response to the failure the call records.
func sipFailure(code int, status string) dialq.Failure {
	return dialq.SIPFailure(code, status, "the SIP trunk")
}

// errorCode returns the twirp code of err, reading gRPC status errors (as the
// SDK returns them when the server sent details) in twirp terms.
func errorCode(err error) twirp.ErrorCode {
	if te, ok := errors.AsType[twirp.Error](err); ok {
		return te.Code()
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return twirpCode(st.Code())
	}
	return twirp.Unknown
}

func errorMsg(err error) string {
	if te, ok := errors.AsType[twirp.Error](err); ok {
		return te.Msg()
	}
	if st, ok := status.FromError(err); ok {
		return st.Message()
	}
	return err.Error()
}

func twirpCode(c codes.Code) twirp.ErrorCode {
	switch c {
	case codes.Canceled:
		return twirp.Canceled
	case codes.InvalidArgument:
		return twirp.InvalidArgument
	case codes.DeadlineExceeded:
		return twirp.DeadlineExceeded
	case codes.NotFound:
		return twirp.NotFound
	case codes.AlreadyExists:
		return twirp.AlreadyExists
	case codes.PermissionDenied:
		return twirp.PermissionDenied
	case codes.ResourceExhausted:
		return twirp.ResourceExhausted
	case codes.FailedPrecondition:
		return twirp.FailedPrecondition
	case codes.Unimplemented:
		return twirp.Unimplemented
	case codes.Internal:
		return twirp.Internal
	case codes.Unavailable:
		return twirp.Unavailable
	case codes.Unauthenticated:
		return twirp.Unauthenticated
	default:
		return twirp.Unknown
	}
}
