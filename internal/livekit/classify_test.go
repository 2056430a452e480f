package livekit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	lkp "github.com/livekit/protocol/livekit"
	"github.com/stretchr/testify/require"
	"github.com/twitchtv/twirp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/dialq/dialq/internal/dialq"
)

func sipErr(t *testing.T, c codes.Code, code int, reason string) error {
	t.Helper()
	st, err := status.New(c, fmt.Sprintf("INVITE failed: sip status: %d: %s", code, reason)).
		WithDetails(&lkp.SIPStatus{Code: lkp.SIPStatusCode(code), Status: reason})
	require.NoError(t, err)
	return st.Err()
}

func TestClassifyDial(t *testing.T) {
	t.Parallel()
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		err     error
		reason  dialq.FailureReason
		retry   bool
		sipCode int
	}{
		{"486", live, sipErr(t, codes.ResourceExhausted, 486, "Busy Here"), dialq.ReasonBusy, false, 486},
		{"600", live, sipErr(t, codes.ResourceExhausted, 600, "Busy Everywhere"), dialq.ReasonBusy, false, 600},
		{"480", live, sipErr(t, codes.ResourceExhausted, 480, "Temporarily Unavailable"), dialq.ReasonNoAnswer, false, 480},
		{"408", live, sipErr(t, codes.DeadlineExceeded, 408, "Request Timeout"), dialq.ReasonNoAnswer, false, 408},
		{"603", live, sipErr(t, codes.PermissionDenied, 603, "Decline"), dialq.ReasonRejected, false, 603},
		{"404", live, sipErr(t, codes.NotFound, 404, "Not Found"), dialq.ReasonUnreachable, false, 404},
		{"484", live, sipErr(t, codes.InvalidArgument, 484, "Address Incomplete"), dialq.ReasonUnreachable, false, 484},
		{"407", live, sipErr(t, codes.PermissionDenied, 407, "Proxy Authentication Required"), dialq.ReasonTrunk, false, 407},
		{"503", live, sipErr(t, codes.FailedPrecondition, 503, "Service Unavailable"), dialq.ReasonCarrier, false, 503},
		{"ring timeout", live, twirp.NewError(twirp.Canceled, "twirp error unknown: sip request timed out"), dialq.ReasonNoAnswer, false, 487},
		{"bad trunk", live, twirp.NotFoundError("requested sip trunk does not exist"), dialq.ReasonTrunk, false, 0},
		{"no sip service", live, twirp.NewError(twirp.Unavailable, "no response from servers"), dialq.ReasonLiveKit, true, 0},
		{"sip not connected", live, twirp.InternalError("sip not connected (redis required)"), dialq.ReasonLiveKit, true, 0},
		{"our context ended", done, twirp.NewError(twirp.Canceled, "context canceled"), dialq.ReasonLiveKit, true, 0},
		{"connection refused", live, &net.OpError{Op: "dial", Err: errors.New("connection refused")}, dialq.ReasonLiveKit, true, 0},
		{"bad credentials", live, twirp.NewError(twirp.Unauthenticated, "invalid token"), dialq.ReasonLiveKit, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := classifyDial(tt.ctx, fmt.Errorf("dial: %w", tt.err))
			se, ok := errors.AsType[*dialq.StepError](err)
			require.True(t, ok, "classified: %v", err)
			require.Equal(t, tt.reason, se.Failure.Reason)
			require.Equal(t, tt.retry, se.Retry)
			require.Equal(t, tt.sipCode, se.Failure.SIPCode)
			require.ErrorIs(t, err, tt.err, "the cause stays in the chain")
		})
	}
}

func TestClassifyRoomAndDispatchErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		err   error
		retry bool
	}{
		{twirp.NewError(twirp.Unavailable, "x"), true},
		{twirp.NewError(twirp.DeadlineExceeded, "x"), true},
		{twirp.NewError(twirp.ResourceExhausted, "rate limited"), true},
		{twirp.InternalError("x"), true},
		{twirp.NewError(twirp.InvalidArgument, "bad name"), false},
		{twirp.NewError(twirp.PermissionDenied, "x"), false},
	} {
		se, ok := errors.AsType[*dialq.StepError](classify(ctx, tt.err))
		require.True(t, ok)
		require.Equal(t, tt.retry, se.Retry, "%v", tt.err)
	}
}

// TestClassifyDialNotPlaced: only an answer that says no INVITE left lets
// the dialer dial again; an ambiguous failure is retried without that.
func TestClassifyDialNotPlaced(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		err       error
		notPlaced bool
	}{
		{"cpu exhausted", twirp.NewError(twirp.Unavailable, "twirp error unknown: cpu exhausted"), true},
		{"no sip service", twirp.NewError(twirp.Unavailable, "no response from servers"), true},
		{"sip not connected", twirp.InternalError("sip not connected (redis required)"), true},
		{"room join failed", twirp.InternalError("update room failed: could not connect after timeout"), true},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"connection reset", &net.OpError{Op: "read", Err: errors.New("connection reset by peer")}, false},
		{"client deadline", twirp.InternalErrorWith(fmt.Errorf("failed to do request: %w", context.DeadlineExceeded)), false},
		{"proxy 504", twirp.NewError(twirp.Unavailable, "gateway timeout").WithMeta("http_error_from_intermediary", "true"), false},
		{"unknown", twirp.NewError(twirp.Unknown, "boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se := dialq.AsStepError(classifyDial(context.Background(), fmt.Errorf("dial: %w", tt.err)))
			require.True(t, se.Retry)
			require.Equal(t, tt.notPlaced, se.NotPlaced)
		})
	}
}
