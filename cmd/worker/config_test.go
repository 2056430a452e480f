package main

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/envconf"
)

// required is the least environment the worker starts with.
var required = map[string]string{
	"DATABASE_URL":       "postgres://dialq@127.0.0.1/dialq",
	"LIVEKIT_URL":        "http://127.0.0.1:7880",
	"LIVEKIT_API_KEY":    "devkey",
	"LIVEKIT_API_SECRET": "devsecret",
}

// loader reads env, which starts from required; an empty value unsets it.
func loader(env map[string]string) *envconf.Loader {
	all := maps.Clone(required)
	maps.Copy(all, env)
	return envconf.FromMap(all)
}

// problems splits readConfig's error into its lines, one per bad variable.
func problems(t *testing.T, err error) []string {
	t.Helper()
	require.Error(t, err)
	msg, ok := strings.CutPrefix(err.Error(), "bad configuration: ")
	require.True(t, ok, "error says it is about the configuration: %v", err)
	return strings.Split(msg, "\n")
}

// TestReadConfigDefaults: with only the required variables, the worker
// runs with the defaults the README documents, the SIP bridge included.
func TestReadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, level, err := readConfig(loader(nil))
	require.NoError(t, err)
	require.Equal(t, "info", level)
	require.Equal(t, required["DATABASE_URL"], c.DatabaseURL)
	require.Equal(t, required["LIVEKIT_URL"], c.LiveKit.URL)
	require.Empty(t, c.LiveKit.SIPURL, "empty: the LiveKit client uses LIVEKIT_URL")
	require.Equal(t, "127.0.0.1:6379", c.Redis.Addr)
	require.Equal(t, 30*time.Second, c.RingTimeout)
	require.Equal(t, 90*time.Second, c.Dial.Timeout)
	require.Equal(t, 3, c.Dial.MaxRetry)
	require.Equal(t, "calls", c.Dial.Queue)
	require.Equal(t, "calls", c.Server.Queue, "the worker serves the queue it enqueues on")
	require.Equal(t, 200, c.Server.Concurrency)
	require.Equal(t, 2*time.Millisecond, c.Server.TaskCheckInterval)
	require.Equal(t, 45*time.Second, c.Server.ShutdownTimeout, "ring time + 15s")
	require.Equal(t, time.Minute, c.SweepAge)
	require.Equal(t, "http://127.0.0.1:58080", c.PublicURL, "the API's address as make run serves it")
	require.Empty(t, c.SecretKey)
	require.Equal(t, "127.0.0.1:9091", c.HTTPAddr, "/metrics, /healthz and /readyz")

	require.NotNil(t, c.Bridge, "DIALQ_BRIDGE defaults to true")
	require.Equal(t, -10, c.Bridge.Nice)
	require.Equal(t, "127.0.0.1:0", c.Bridge.SIPListen)
	require.Equal(t, "127.0.0.1", c.Bridge.RTPBindIP)
	require.Equal(t, 30*time.Second, c.Bridge.NoRTPTimeout)
	require.Equal(t, time.Hour, c.Bridge.MaxCallDuration)
	require.Equal(t, 2*time.Minute, c.Bridge.DrainTimeout)
	require.Equal(t, 10*time.Second, c.Bridge.Heartbeat)
}

// TestReadConfigSettings: set variables reach the config, and what derives
// from them follows.
func TestReadConfigSettings(t *testing.T) {
	t.Parallel()
	t.Run("no bridge", func(t *testing.T) {
		t.Parallel()
		c, _, err := readConfig(loader(map[string]string{"DIALQ_BRIDGE": "false"}))
		require.NoError(t, err)
		require.Nil(t, c.Bridge)
	})
	t.Run("longer ring", func(t *testing.T) {
		t.Parallel()
		c, _, err := readConfig(loader(map[string]string{"DIALQ_RING_TIMEOUT": "60s"}))
		require.NoError(t, err, "60s of ring still fits the default 90s dial timeout")
		require.Equal(t, 60*time.Second, c.RingTimeout)
		require.Equal(t, 75*time.Second, c.Server.ShutdownTimeout, "shutdown waits for a dial in flight")
	})
	t.Run("shutdown timeout set", func(t *testing.T) {
		t.Parallel()
		c, _, err := readConfig(loader(map[string]string{"DIALQ_SHUTDOWN_TIMEOUT": "5s"}))
		require.NoError(t, err)
		require.Equal(t, 5*time.Second, c.Server.ShutdownTimeout)
	})
	t.Run("queue", func(t *testing.T) {
		t.Parallel()
		c, _, err := readConfig(loader(map[string]string{"DIALQ_QUEUE": "calls_eu"}))
		require.NoError(t, err)
		require.Equal(t, "calls_eu", c.Dial.Queue)
		require.Equal(t, "calls_eu", c.Server.Queue)
	})
	t.Run("bridge priority", func(t *testing.T) {
		t.Parallel()
		for _, nice := range []string{"-20", "0"} {
			c, _, err := readConfig(loader(map[string]string{"DIALQ_BRIDGE_NICE": nice}))
			require.NoError(t, err, nice)
			require.NotNil(t, c.Bridge)
		}
	})
}

// TestReadConfigRefuses: each bad value is refused with one problem that
// names its variable.
func TestReadConfigPublicURL(t *testing.T) {
	t.Parallel()
	c, _, err := readConfig(loader(map[string]string{"DIALQ_API_ADDR": "127.0.0.1:9000"}))
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:9000", c.PublicURL, "follows the API's address")
	c, _, err = readConfig(loader(map[string]string{"DIALQ_PUBLIC_URL": "https://dialq.example.com", "DIALQ_SECRET_KEY": "k"}))
	require.NoError(t, err)
	require.Equal(t, "https://dialq.example.com", c.PublicURL)
	require.Equal(t, "k", c.SecretKey)
	require.Equal(t, "k", c.Bridge.SecretKey, "one key for the reports and the bridge")
}

func TestReadConfigRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string // in the one problem reported
	}{
		{"no database", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL is required"},
		{"no LiveKit", map[string]string{"LIVEKIT_URL": ""}, "LIVEKIT_URL is required"},
		{"no LiveKit key", map[string]string{"LIVEKIT_API_KEY": ""}, "LIVEKIT_API_KEY is required"},
		{"no LiveKit secret", map[string]string{"LIVEKIT_API_SECRET": ""}, "LIVEKIT_API_SECRET is required"},
		{"ring under 5s", map[string]string{"DIALQ_RING_TIMEOUT": "4s"}, "DIALQ_RING_TIMEOUT must be at least 5s"},
		{"ring not a duration", map[string]string{"DIALQ_RING_TIMEOUT": "thirty"}, `DIALQ_RING_TIMEOUT="thirty" is not a duration`},
		{"dial timeout under ring + 30s", map[string]string{"DIALQ_DIAL_TIMEOUT": "59s"},
			"DIALQ_DIAL_TIMEOUT (59s) must exceed DIALQ_RING_TIMEOUT (30s) by at least 30s"},
		{"ring too long for the dial timeout", map[string]string{"DIALQ_RING_TIMEOUT": "61s"},
			"DIALQ_DIAL_TIMEOUT (1m30s) must exceed DIALQ_RING_TIMEOUT (1m1s)"},
		{"bridge nice above 0", map[string]string{"DIALQ_BRIDGE_NICE": "1"}, "DIALQ_BRIDGE_NICE must be from -20 to 0"},
		{"bridge nice below -20", map[string]string{"DIALQ_BRIDGE_NICE": "-21"}, "DIALQ_BRIDGE_NICE must be from -20 to 0"},
		{"bridge nice not a number", map[string]string{"DIALQ_BRIDGE_NICE": "high"}, `DIALQ_BRIDGE_NICE="high" is not a whole number`},
		{"bridge not a boolean", map[string]string{"DIALQ_BRIDGE": "exotel"}, `DIALQ_BRIDGE="exotel" is not true or false`},
		{"no workers", map[string]string{"DIALQ_WORKER_CONCURRENCY": "0"}, "DIALQ_WORKER_CONCURRENCY must be more than 0"},
		{"task check of zero", map[string]string{"DIALQ_TASK_CHECK_INTERVAL": "0s"}, "DIALQ_TASK_CHECK_INTERVAL must be more than 0"},
		{"retry base of zero", map[string]string{"DIALQ_RETRY_BASE": "0s"}, "DIALQ_RETRY_BASE must be more than 0"},
		{"retry check of zero", map[string]string{"DIALQ_RETRY_CHECK_INTERVAL": "0s"}, "DIALQ_RETRY_CHECK_INTERVAL must be more than 0"},
		{"sweep age under 1s", map[string]string{"DIALQ_SWEEP_AGE": "500ms"}, "DIALQ_SWEEP_AGE must be at least 1s"},
		{"no-RTP timeout under 1s", map[string]string{"DIALQ_NO_RTP_TIMEOUT": "500ms"}, "DIALQ_NO_RTP_TIMEOUT must be at least 1s"},
		{"max call under 1m", map[string]string{"DIALQ_MAX_CALL_DURATION": "30s"}, "DIALQ_MAX_CALL_DURATION must be at least 1m"},
		{"heartbeat under 1s", map[string]string{"DIALQ_BRIDGE_HEARTBEAT": "500ms"}, "DIALQ_BRIDGE_HEARTBEAT must be at least 1s"},
		{"HTTP address without a port", map[string]string{"DIALQ_WORKER_HTTP_ADDR": "127.0.0.1"}, "DIALQ_WORKER_HTTP_ADDR must be host:port"},
		{"HTTP address with a bad port", map[string]string{"DIALQ_WORKER_HTTP_ADDR": "127.0.0.1:99999"}, `DIALQ_WORKER_HTTP_ADDR must be host:port such as 127.0.0.1:9091 (port 0 picks one), got "127.0.0.1:99999"`},
		{"public URL without a scheme", map[string]string{"DIALQ_PUBLIC_URL": "dialq.example.com"}, "DIALQ_PUBLIC_URL must be an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := readConfig(loader(tt.env))
			p := problems(t, err)
			require.Len(t, p, 1, "one problem, no other variable blamed: %q", p)
			require.Contains(t, p[0], tt.want)
		})
	}
}

// TestReadConfigNamesEveryBadVariable: one start-up error names every bad
// variable, not just the first.
func TestReadConfigNamesEveryBadVariable(t *testing.T) {
	t.Parallel()
	_, _, err := readConfig(loader(map[string]string{
		"LIVEKIT_URL":        "",
		"DIALQ_RING_TIMEOUT": "2s",
		"DIALQ_DIAL_TIMEOUT": "20s",
		"DIALQ_BRIDGE_NICE":  "5",
		"DIALQ_SWEEP_AGE":    "never",
	}))
	p := problems(t, err)
	require.Len(t, p, 5, "%q", p)
	for _, name := range []string{"LIVEKIT_URL", "DIALQ_RING_TIMEOUT", "DIALQ_DIAL_TIMEOUT", "DIALQ_BRIDGE_NICE", "DIALQ_SWEEP_AGE"} {
		require.Contains(t, err.Error(), name)
	}
}
