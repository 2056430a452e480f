package dialq_test

import (
	"math"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// TestCallLimits: what caps nothing is no limit; a limit is named by its
// key; the rules name the field broken.
func TestCallLimits(t *testing.T) {
	t.Parallel()
	tr := dialq.Trunk{ID: "ST_a"}
	_, ok := tr.Limit()
	require.False(t, ok, "no caps, no limit")
	tr.CallsPerSecond = 200.0 / 60
	l, ok := tr.Limit()
	require.True(t, ok)
	require.Equal(t, dialq.Limit{Key: "trunk:ST_a", PerSecond: 200.0 / 60}, l)
	require.Equal(t, "trunk ST_a", l.String())
	id := uuid.MustParse("550e8400-e29b-41d4-a716-446655440000")
	ten := dialq.Tenant{ID: id, CallLimits: dialq.CallLimits{MaxConcurrentCalls: 3}}
	l, ok = ten.Limit()
	require.True(t, ok)
	require.Equal(t, dialq.Limit{Key: "tenant:550e8400-e29b-41d4-a716-446655440000", MaxConcurrent: 3}, l)
	require.Equal(t, "max_concurrent_calls 3", ten.CallLimits.String())

	for _, bad := range []dialq.CallLimits{{MaxConcurrentCalls: -1}, {CallsPerSecond: -0.5},
		{CallsPerSecond: math.NaN()}, {CallsPerSecond: dialq.MaxCallsPerSecond + 1}} {
		require.Equal(t, dialq.EINVALID, dialq.ErrorCode(bad.Validate("")), "%+v", bad)
	}
	require.NoError(t, dialq.CallLimits{MaxConcurrentCalls: 10, CallsPerSecond: 3.333}.Validate(""))

	a := dialq.Admission{By: dialq.Limit{Key: "trunk:ST_a", PerSecond: 200.0 / 60}, Wait: 1200 * time.Millisecond}
	require.Equal(t, "waiting for its turn: trunk ST_a allows 3.333 calls per second; this one is dialed in 1.2s", a.Reason())
}
