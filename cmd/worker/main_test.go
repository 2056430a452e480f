package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/testkit/mainexec"
)

func TestMain(m *testing.M) {
	mainexec.Main(main)
	os.Exit(m.Run())
}

// TestHelp: -h and --help list every variable the worker reads, with its
// default, and exit 0 with no service and none of its variables set; any
// other flag or argument is exit 2 with a message.
func TestHelp(t *testing.T) {
	t.Parallel()
	entries := envconf.Of(app.WorkerBinary)
	require.NotEmpty(t, entries)
	for _, h := range []string{"-h", "--help"} {
		r := mainexec.Run(t, h)
		require.Equal(t, 0, r.Code, "%s: %s", h, r.Stderr)
		require.Contains(t, r.Stdout, "usage: worker [-h]")
		for _, e := range entries {
			require.Contains(t, r.Stdout, "  "+e.Name+" (default: "+e.DefaultText()+")\n      "+e.Meaning+"\n", h)
		}
	}
	for _, args := range [][]string{{"-port", "1"}, {"serve"}} {
		r := mainexec.Run(t, args...)
		require.Equal(t, 2, r.Code, "%v", args)
		require.True(t, strings.HasPrefix(r.Stderr, "worker: "), r.Stderr)
		require.Contains(t, r.Stderr, "-h lists them")
	}
}
