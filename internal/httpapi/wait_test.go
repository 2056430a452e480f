package httpapi_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWaitTakesOnlyPlainDecimalSeconds: ?wait= is a plain decimal number of
// seconds in range. What strconv.ParseFloat also takes (NaN, Inf,
// underscores, hex floats, exponents) is refused naming wait, and no call
// is placed.
func TestWaitTakesOnlyPlainDecimalSeconds(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, q := range []string{"NaN", "nan", "Inf", "+Inf", "-Inf", "infinity", "1_0", "0x1p-20", "0x10", "1e1", "1E-3",
		"-1", "-0", "+1", "", " 1", "1 ", "1.", ".5", "61", "60.000000001", "1,5", "１"} {
		t.Run(q, func(t *testing.T) {
			r := h.post("/call/outbound?wait="+url.QueryEscape(q), h.body(nil))
			requireFieldError(t, r, "wait", "plain decimal number of seconds from 0 to 60")
		})
	}
	require.Empty(t, h.queuedTasks(), "no refused wait places a call")

	for _, q := range []string{"0", "0.0", "00"} {
		r := h.post("/call/outbound?wait="+q, h.body(nil))
		require.Equal(t, http.StatusAccepted, r.Status, "wait=%s: %s", q, r.Raw)
	}
	require.Len(t, h.queuedTasks(), 3)
}
