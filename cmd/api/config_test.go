package main

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/httpapi"
)

// required is the least environment the API starts with.
var required = map[string]string{"DATABASE_URL": "postgres://dialq@127.0.0.1/dialq"}

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

// TestReadConfigDefaults: with only the required variables, the API runs
// with the defaults the README documents.
func TestReadConfigDefaults(t *testing.T) {
	t.Parallel()
	c, level, err := readConfig(loader(nil))
	require.NoError(t, err)
	require.Equal(t, "info", level)
	require.Equal(t, required["DATABASE_URL"], c.DatabaseURL)
	require.Equal(t, "127.0.0.1:58080", c.Addr)
	require.Equal(t, "127.0.0.1:6379", c.Redis.Addr)
	require.True(t, c.Migrate)
	require.Equal(t, "calls", c.Dial.Queue)
	require.Equal(t, 3, c.Dial.MaxRetry)
	require.Equal(t, 90*time.Second, c.Dial.Timeout)
	require.Equal(t, 10*time.Second, c.HTTP.DefaultWait)
	require.Equal(t, 60*time.Second, c.HTTP.MaxWait)
	require.Equal(t, 5*time.Second, c.HTTP.CacheTTL)
	require.Equal(t, 5*time.Second, c.Calls.CacheTTL, "one DIALQ_CACHE_TTL for the handlers and the calls service")
	require.Equal(t, time.Second, c.Calls.PollInterval)
	require.Nil(t, c.HTTP.Monitoring, "no Asynqmon without a login")
}

// TestReadConfigSettings: set variables reach the config.
func TestReadConfigSettings(t *testing.T) {
	t.Parallel()
	t.Run("timeouts", func(t *testing.T) {
		t.Parallel()
		c, _, err := readConfig(loader(map[string]string{
			"DIALQ_DIAL_TIMEOUT": "2m", "DIALQ_WAIT_DEFAULT": "30s", "DIALQ_WAIT_MAX": "30s", "DIALQ_CACHE_TTL": "1s",
		}))
		require.NoError(t, err)
		require.Equal(t, 2*time.Minute, c.Dial.Timeout)
		require.Equal(t, 30*time.Second, c.HTTP.DefaultWait, "the default wait may equal the longest")
		require.Equal(t, time.Second, c.Calls.CacheTTL)
		require.EqualValues(t, httpapi.DefaultMaxUploadBytes, c.HTTP.MaxUploadBytes)
	})
	t.Run("upload limit", func(t *testing.T) {
		t.Parallel()
		c, _, err := readConfig(loader(map[string]string{"DIALQ_MAX_UPLOAD_BYTES": "5000000"}))
		require.NoError(t, err)
		require.EqualValues(t, 5000000, c.HTTP.MaxUploadBytes)
	})
	t.Run("Asynqmon, read-only", func(t *testing.T) {
		t.Parallel()
		c, _, err := readConfig(loader(map[string]string{
			"DIALQ_ADMIN_USER": "ops", "DIALQ_ADMIN_PASSWORD": "secret", "REDIS_ADDR": "10.0.0.5:6380",
		}))
		require.NoError(t, err)
		require.NotNil(t, c.HTTP.Monitoring)
		require.Equal(t, "ops", c.HTTP.Monitoring.User)
		require.True(t, c.HTTP.Monitoring.ReadOnly)
		require.False(t, c.HTTP.Monitoring.ShowNumbers, "phone numbers are masked by default")
		require.Equal(t, asynq.RedisClientOpt{Addr: "10.0.0.5:6380"}, c.HTTP.Monitoring.Redis, "the dashboard reads the API's Redis")
	})
	t.Run("Asynqmon, writable", func(t *testing.T) {
		t.Parallel()
		c, _, err := readConfig(loader(map[string]string{
			"DIALQ_ADMIN_USER": "ops", "DIALQ_ADMIN_PASSWORD": "secret", "DIALQ_MONITORING_WRITABLE": "true",
		}))
		require.NoError(t, err)
		require.False(t, c.HTTP.Monitoring.ReadOnly)
	})
	t.Run("Asynqmon, numbers in full", func(t *testing.T) {
		t.Parallel()
		c, _, err := readConfig(loader(map[string]string{
			"DIALQ_ADMIN_USER": "ops", "DIALQ_ADMIN_PASSWORD": "secret", "DIALQ_MONITORING_MASK_NUMBERS": "false",
		}))
		require.NoError(t, err)
		require.True(t, c.HTTP.Monitoring.ShowNumbers)
	})
}

// TestReadConfigRefuses: each bad value is refused with one problem that
// names its variable.
func TestReadConfigRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string // in the one problem reported
	}{
		{"no database", map[string]string{"DATABASE_URL": ""}, "DATABASE_URL is required"},
		{"default wait above the longest", map[string]string{"DIALQ_WAIT_DEFAULT": "2m"}, "DIALQ_WAIT_DEFAULT (2m0s) must not exceed DIALQ_WAIT_MAX (1m0s)"},
		{"longest wait below the default", map[string]string{"DIALQ_WAIT_MAX": "5s"}, "DIALQ_WAIT_DEFAULT"},
		{"dial timeout under 30s", map[string]string{"DIALQ_DIAL_TIMEOUT": "29s"}, "DIALQ_DIAL_TIMEOUT must be at least 30s"},
		{"negative retries", map[string]string{"DIALQ_DIAL_MAX_RETRY": "-1"}, "DIALQ_DIAL_MAX_RETRY must be 0 or more"},
		{"retries not a number", map[string]string{"DIALQ_DIAL_MAX_RETRY": "three"}, `DIALQ_DIAL_MAX_RETRY="three" is not a whole number`},
		{"poll of zero", map[string]string{"DIALQ_WAIT_POLL": "0s"}, "DIALQ_WAIT_POLL must be more than 0"},
		{"admin user without password", map[string]string{"DIALQ_ADMIN_USER": "ops"}, "DIALQ_ADMIN_USER and DIALQ_ADMIN_PASSWORD must be set together"},
		{"admin password without user", map[string]string{"DIALQ_ADMIN_PASSWORD": "secret"}, "DIALQ_ADMIN_PASSWORD"},
		{"not a duration", map[string]string{"DIALQ_WAIT_MAX": "soon"}, `DIALQ_WAIT_MAX="soon" is not a duration`},
		{"a number without a unit", map[string]string{"DIALQ_DIAL_TIMEOUT": "90"}, `DIALQ_DIAL_TIMEOUT="90" is not a duration`},
		{"negative duration", map[string]string{"DIALQ_CACHE_TTL": "-1s"}, `DIALQ_CACHE_TTL="-1s" is not a duration`},
		{"upload limit under a request's", map[string]string{"DIALQ_MAX_UPLOAD_BYTES": "1000"}, "DIALQ_MAX_UPLOAD_BYTES must be at least 65536 bytes"},
		{"no uploads", map[string]string{"DIALQ_MAX_UPLOADS": "0"}, "DIALQ_MAX_UPLOADS must be at least 1"},
		{"not a boolean", map[string]string{"DIALQ_MIGRATE": "sometimes"}, `DIALQ_MIGRATE="sometimes" is not true or false`},
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
		"DATABASE_URL":       "",
		"DIALQ_DIAL_TIMEOUT": "10s",
		"DIALQ_WAIT_DEFAULT": "2m",
		"DIALQ_ADMIN_USER":   "ops",
		"REDIS_DB":           "first",
	}))
	p := problems(t, err)
	require.Len(t, p, 5, "%q", p)
	for _, name := range []string{"DATABASE_URL", "DIALQ_DIAL_TIMEOUT", "DIALQ_WAIT_DEFAULT", "DIALQ_ADMIN_USER", "REDIS_DB"} {
		require.Contains(t, err.Error(), name)
	}
}
