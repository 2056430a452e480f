package relay

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLostBefore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		seq  uint16
		ts   uint32
		want int
		why  string
	}{
		{101, 1960, 0, "next packet"},
		{103, 3880, 2, "two lost"},
		{103, 1960, 0, "two padding packets in between"},
		{101, 96000, 0, "the sender was in DTX"},
		{100 + maxLostRun + 2, 1000 + (maxLostRun+2)*960, 0, "too many: a new stream"},
		{99, 40, 0, "older"},
	} {
		require.Equal(t, tc.want, lostBefore(100, 1000, 960, tc.seq, tc.ts), tc.why)
	}
	require.Equal(t, 1, lostBefore(65535, 1000, 960, 1, 2920), "sequence numbers wrap")
	require.Equal(t, 1, lostBefore(100, 1000, 0, 102, 1000), "duration unknown: trust the sequence numbers")
}
