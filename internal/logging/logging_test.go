package logging_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/logging"
)

// TestDurationsAreReadable: a duration logged any way (a plain argument,
// slog.Duration, an attribute bound with With, inside a group) comes out as
// "2m0s", not 120000000000; other numbers stay numbers.
func TestDurationsAreReadable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := logging.New(&buf, "info").With("service", "worker", "drain_timeout", 2*time.Minute)
	log.WithGroup("bridge").Info("draining",
		"wait", 1500*time.Millisecond,
		slog.Duration("ring", 30*time.Second),
		slog.Group("sub", "every", 10*time.Second),
		"calls", 3)

	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	require.Equal(t, "2m0s", line["drain_timeout"])
	bridge := line["bridge"].(map[string]any)
	require.Equal(t, "1.5s", bridge["wait"])
	require.Equal(t, "30s", bridge["ring"])
	require.Equal(t, "10s", bridge["sub"].(map[string]any)["every"])
	require.Equal(t, float64(3), bridge["calls"])
	require.Equal(t, "worker", line["service"])
}
