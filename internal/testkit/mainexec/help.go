package mainexec

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/envconf"
)

// RequireHelp checks b's main as a user meets it: -h and --help exit 0
// listing every variable b reads with its default and meaning, with no
// service to reach and none of the variables set; an unknown flag or an
// argument exits 2 with a message naming b.
func RequireHelp(t *testing.T, b envconf.Binary) {
	t.Helper()
	entries := envconf.Of(b)
	require.NotEmpty(t, entries)
	for _, h := range []string{"-h", "--help"} {
		r := Run(t, h)
		require.Equal(t, 0, r.Code, "%s: %s", h, r.Stderr)
		require.Contains(t, r.Stdout, "usage: "+b.Name+" [-h]")
		for _, e := range entries {
			require.Contains(t, r.Stdout, "  "+e.Name+" (default: "+e.DefaultText()+")\n      "+e.Meaning+"\n", h)
		}
	}
	for _, args := range [][]string{{"-port", "1"}, {"serve"}} {
		r := Run(t, args...)
		require.Equal(t, 2, r.Code, "%v", args)
		require.True(t, strings.HasPrefix(r.Stderr, b.Name+": "), r.Stderr)
		require.Contains(t, r.Stderr, "-h lists them")
	}
}
