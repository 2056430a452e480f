package relay

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSkipLog(t *testing.T) {
	t.Parallel()
	var l skipLog
	start := time.Now()
	frames, warn := l.note(start, 3)
	require.True(t, warn, "the first time")
	require.EqualValues(t, 3, frames)
	_, warn = l.note(start.Add(time.Second), 4)
	require.False(t, warn, "within 5 s")
	_, warn = l.note(start.Add(4*time.Second), 5)
	require.False(t, warn)
	frames, warn = l.note(start.Add(5*time.Second), 1)
	require.True(t, warn)
	require.EqualValues(t, 10, frames, "counts what it did not report")
}

func TestLatenessP99(t *testing.T) {
	t.Parallel()
	var c counters
	require.Zero(t, c.snapshot().SendLatenessP99, "no frame yet")
	for range 980 {
		c.sent(100 * time.Microsecond)
	}
	for range 15 {
		c.sent(3500 * time.Microsecond)
	}
	for range 5 {
		c.sent(90 * time.Millisecond)
	}
	st := c.snapshot()
	require.Equal(t, 4*time.Millisecond, st.SendLatenessP99, "the 990th frame is in the 3-4 ms bucket")
	require.Equal(t, 90*time.Millisecond, st.MaxSendJitter)
	require.EqualValues(t, 5, st.LateFrames)

	var d counters
	d.sent(100 * time.Microsecond)
	require.Equal(t, 100*time.Microsecond, d.snapshot().SendLatenessP99, "no more than the most seen")
	for range 10 {
		d.sent(time.Second)
	}
	require.Equal(t, time.Second, d.snapshot().SendLatenessP99, "beyond the buckets")
}
