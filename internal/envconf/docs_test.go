package envconf

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLoaderRecordsReads: every getter records its variable once, with its
// kind and its default written as a user writes it.
func TestLoaderRecordsReads(t *testing.T) {
	t.Parallel()
	l := FromMap(map[string]string{"B": "7"})
	l.String("A", "x")
	l.Int("B", 3)
	l.Bool("C", true)
	l.Duration("D", 90*time.Second)
	l.Duration("E", time.Hour)
	l.Required("F")
	l.String("A", "other") // asked again: listed once, first default
	require.Equal(t, []Read{
		{Name: "A", Kind: KindString, Default: "x"},
		{Name: "B", Kind: KindInt, Default: "3"},
		{Name: "C", Kind: KindBool, Default: "true"},
		{Name: "D", Kind: KindDuration, Default: "1m30s"},
		{Name: "E", Kind: KindDuration, Default: "1h"},
		{Name: "F", Kind: KindRequired},
	}, l.Reads())
	require.EqualError(t, l.Err(), "bad configuration: F is required")
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{0: "0s", 2 * time.Millisecond: "2ms", time.Minute: "1m",
		2 * time.Minute: "2m", 24 * time.Hour: "24h", 90 * time.Minute: "1h30m", 61 * time.Second: "1m1s"} {
		require.Equal(t, want, FormatDuration(d), d)
	}
}

var (
	api    = Binary{Name: "api", Read: func(l *Loader) { l.Required("DB"); l.String("LK", ""); l.Duration("WAIT", 10*time.Second) }}
	worker = Binary{Name: "worker", Read: func(l *Loader) { l.Required("DB"); l.Required("LK"); l.Duration("STOP", 0) }}
	docs   = []Doc{{Name: "DB", Meaning: "the database"}, {Name: "LK", Meaning: "LiveKit"},
		{Name: "WAIT", Meaning: "the wait"}, {Name: "STOP", Meaning: "the drain", Default: "ring + 15s"}}
)

// TestCollect joins what the binaries read to the docs, and shows a
// default per binary where they differ.
func TestCollect(t *testing.T) {
	t.Parallel()
	entries, err := collect([]Binary{api, worker}, docs)
	require.NoError(t, err)
	got := map[string]string{}
	for _, e := range entries {
		got[e.Name] = e.DefaultText() + " / " + strings.Join(e.Readers, ",")
	}
	require.Equal(t, map[string]string{
		"DB":   "required / api,worker",
		"LK":   "unset (api); required (worker) / api,worker",
		"WAIT": "10s / api",
		"STOP": "ring + 15s / worker",
	}, got)

	var example bytes.Buffer
	EnvExample(&example, entries)
	require.Contains(t, example.String(), "\nWAIT=10s\n")
	require.Contains(t, example.String(), "\nLK=\n", "no one default: blank")
	require.Contains(t, example.String(), "\nSTOP=\n", "a default made of another setting: blank")
	require.Contains(t, example.String(), "# the wait (api). Default: 10s.\n")
}

// TestCollectRefusesDrift: a variable read and not described, described
// and not read, a shown default standing in for a real one, a secret with
// a default: each is an error naming the variable.
func TestCollectRefusesDrift(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		bins []Binary
		docs []Doc
		want string
	}{
		{"not described", []Binary{api}, docs[:1], "api reads LK, which envconf.Vars does not describe"},
		{"not read", []Binary{api}, append(docs[:3:3], Doc{Name: "GONE"}), "envconf.Vars describes GONE, which no binary reads"},
		{"shown default over a real one", []Binary{{Name: "x", Read: func(l *Loader) { l.Duration("STOP", time.Second) }}},
			[]Doc{{Name: "STOP", Default: "ring + 15s"}}, `STOP: envconf.Vars shows the default "ring + 15s", but x reads it with the default "1s"`},
		{"secret with a default", []Binary{{Name: "x", Read: func(l *Loader) { l.String("API_SECRET", "hunter2") }}},
			[]Doc{{Name: "API_SECRET"}}, "API_SECRET is a secret and must have no default"},
		{"described twice", []Binary{api}, append(append([]Doc{}, docs[:3]...), docs[0]), "DB is described twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := collect(tc.bins, tc.docs)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestVarsHoldNoSecretDefaults: the real table shows no default for a
// secret.
func TestVarsHoldNoSecretDefaults(t *testing.T) {
	t.Parallel()
	for _, d := range Vars {
		if secret(d.Name) {
			require.Empty(t, d.Default, d.Name)
		}
		require.NotEmpty(t, d.Meaning, d.Name)
	}
}

func TestReplaceTable(t *testing.T) {
	t.Parallel()
	readme := "# x\n\n" + TableBegin + "\nold\n" + TableEnd + "\nafter\n"
	got, err := ReplaceTable(readme, "| new |\n")
	require.NoError(t, err)
	require.Equal(t, "# x\n\n"+TableBegin+"\n| new |\n"+TableEnd+"\nafter\n", got)
	_, err = ReplaceTable("# no table", "")
	require.ErrorContains(t, err, "marker")
}

// TestParseArgs: -h, -help and --help print the variables and exit 0; any
// other flag or argument is exit 2 with a message; none goes on.
func TestParseArgs(t *testing.T) {
	t.Parallel()
	b := Binary{Name: "api", Summary: "the API", Read: api.Read}
	for _, h := range []string{"-h", "-help", "--help"} {
		var out, errb bytes.Buffer
		require.Equal(t, 0, ParseArgs(b, []string{h}, &out, &errb), h)
		require.Empty(t, errb.String())
		require.Contains(t, out.String(), "usage: api [-h]")
		require.Contains(t, out.String(), "the API")
		require.Contains(t, out.String(), "  DB (default: required)\n")
		require.Contains(t, out.String(), "  WAIT (default: 10s)\n")
	}
	for _, args := range [][]string{{"-x"}, {"--port=1"}, {"serve"}} {
		var out, errb bytes.Buffer
		require.Equal(t, 2, ParseArgs(b, args, &out, &errb), args)
		require.Empty(t, out.String())
		require.Contains(t, errb.String(), "api: ")
		require.Contains(t, errb.String(), "api -h lists them")
	}
	require.Equal(t, -1, ParseArgs(b, nil, &bytes.Buffer{}, &bytes.Buffer{}))
}
