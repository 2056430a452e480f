package httpapi

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseWaitReadsDecimalSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"10", 10 * time.Second},
		{"2.5", 2500 * time.Millisecond},
		{"0.3", 300 * time.Millisecond},
		{"060", 60 * time.Second},
		{"60.0", 60 * time.Second},
	}
	for _, tt := range tests {
		got, err := parseWait(tt.in, time.Minute)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}
