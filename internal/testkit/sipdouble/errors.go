package sipdouble

import (
	"fmt"

	"github.com/twitchtv/twirp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/psrpc"
)

// The errors below are the ones livekit-server and livekit-sip return, built
// the same way so that they reach the SDK client with the same code, message
// and details (see DESIGN.md, "What the real service answered").

// reasonPhrases are the standard SIP reason phrases (RFC 3261 and friends)
// of the final responses a callee or carrier commonly sends.
var reasonPhrases = map[int]string{
	200: "OK",
	400: "Bad Request",
	401: "Unauthorized",
	402: "Payment Required",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	406: "Not Acceptable",
	407: "Proxy Authentication Required",
	408: "Request Timeout",
	410: "Gone",
	413: "Request Entity Too Large",
	414: "Request-URI Too Long",
	415: "Unsupported Media Type",
	416: "Unsupported URI Scheme",
	420: "Bad Extension",
	421: "Extension Required",
	423: "Interval Too Brief",
	480: "Temporarily Unavailable",
	481: "Call/Transaction Does Not Exist",
	482: "Loop Detected",
	483: "Too Many Hops",
	484: "Address Incomplete",
	485: "Ambiguous",
	486: "Busy Here",
	487: "Request Terminated",
	488: "Not Acceptable Here",
	491: "Request Pending",
	493: "Undecipherable",
	500: "Server Internal Error",
	501: "Not Implemented",
	502: "Bad Gateway",
	503: "Service Unavailable",
	504: "Server Time-out",
	505: "Version Not Supported",
	513: "Message Too Large",
	600: "Busy Everywhere",
	603: "Decline",
	604: "Does Not Exist Anywhere",
	606: "Not Acceptable",
}

// ReasonPhrase returns the standard SIP reason phrase for code, or "" if it
// is not a code this package knows.
func ReasonPhrase(code int) string {
	return reasonPhrases[code]
}

// observedGRPCCodes are the gRPC codes the real service was seen to return
// for these SIP answers. They differ from protocol's current
// sipCodeToGRPCCode for 480 and 486, so they are pinned here.
var observedGRPCCodes = map[int]codes.Code{
	404: codes.NotFound,
	408: codes.DeadlineExceeded,
	480: codes.ResourceExhausted,
	486: codes.ResourceExhausted,
	503: codes.FailedPrecondition,
	603: codes.PermissionDenied,
}

// grpcCodeFor returns the gRPC code of the error for a final SIP answer.
func grpcCodeFor(code int) codes.Code {
	if c, ok := observedGRPCCodes[code]; ok {
		return c
	}
	return (&livekit.SIPStatus{Code: livekit.SIPStatusCode(code)}).GRPCStatus().Code()
}

// inviteError is the error livekit-sip returns when the INVITE gets the final
// answer code: a gRPC status carrying *livekit.SIPStatus as its detail, so
// lksdk.SIPStatusFrom finds the code on the client side. livekit-sip words
// the message "INVITE failed" for the answers it expects from a callee and
// "unexpected status from INVITE response" for the rest.
func inviteError(code int, reason string) error {
	if reason == "" {
		reason = ReasonPhrase(code)
	}
	st := &livekit.SIPStatus{Code: livekit.SIPStatusCode(code), Status: reason}
	prefix := "unexpected status from INVITE response"
	switch code {
	case 400, 404, 480, 486, 488:
		prefix = "INVITE failed"
	}
	s := status.New(grpcCodeFor(code), fmt.Sprintf("%s: %s", prefix, st.Error()))
	if withDetails, err := s.WithDetails(st); err == nil {
		s = withDetails
	}
	return s.Err()
}

// ringTimeoutError is what the SDK receives when the phone rang past the
// request's ringing timeout, when the room went away during ringing or when
// the service shut down first: livekit-sip's psrpc Canceled error
// "sip request timed out", which arrives as
// "twirp error canceled: twirp error unknown: sip request timed out" and
// carries no SIP status.
func ringTimeoutError() error {
	inner := twirp.NewError(twirp.Unknown, "sip request timed out")
	return twirp.WrapError(twirp.NewError(twirp.Canceled, inner.Error()), inner)
}

// trunkNotFoundError is livekit-server's answer for an unknown SipTrunkId.
func trunkNotFoundError() error {
	return twirp.NewError(twirp.NotFound, "requested sip trunk does not exist")
}

// permissionDeniedError is livekit-server's answer when the token lacks the
// grant a method needs (or no token was sent).
func permissionDeniedError() error {
	return twirp.NewError(twirp.Unauthenticated, "permissions denied")
}

// roomJoinError is livekit-sip's answer when the SIP participant cannot join
// the room.
func roomJoinError(err error) error {
	return psrpc.NewError(psrpc.Internal, fmt.Errorf("update room failed: %w", err))
}

// shuttingDownError answers requests that arrive after Close.
func shuttingDownError() error {
	return psrpc.NewErrorf(psrpc.Unavailable, "sip service is shutting down")
}
