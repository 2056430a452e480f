package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/testkit/mainexec"
)

func TestMain(m *testing.M) {
	mainexec.Main(main)
	os.Exit(m.Run())
}

// TestHelp: dialqctl -h lists its commands and every variable they read,
// and exits 0 with no database and none of its variables set; an unknown
// command is exit 2 naming it.
func TestHelp(t *testing.T) {
	t.Parallel()
	entries := envconf.Of(ctlBinary)
	require.NotEmpty(t, entries)
	for _, h := range []string{"-h", "--help", "help"} {
		r := mainexec.Run(t, h)
		require.Equal(t, 0, r.Code, "%s: %s", h, r.Stderr)
		require.Contains(t, r.Stdout, "env-docs")
		for _, e := range entries {
			require.Contains(t, r.Stdout, "  "+e.Name+" (default: "+e.DefaultText()+")\n      "+e.Meaning+"\n", h)
		}
	}
	r := mainexec.Run(t, "nope")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, `dialqctl: unknown command "nope"`)
	r = mainexec.Run(t)
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "usage: dialqctl COMMAND")
	r = mainexec.Run(t, "migrate")
	require.Equal(t, 1, r.Code, "no DATABASE_URL")
	require.Contains(t, r.Stderr, "DATABASE_URL is required")
}
