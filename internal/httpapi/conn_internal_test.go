package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHeadFramerFollowsReadsSplitAnywhere: net/http reads a connection in
// pieces of any size; the framer sees the same requests whether they come
// whole or a byte at a time.
func TestHeadFramerFollowsReadsSplitAnywhere(t *testing.T) {
	t.Parallel()
	stream := "POST /a HTTP/1.1\r\nContent-Length: 12\r\n\r\n\r\n\r\nGET /x H" +
		"POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: 1\r\n\r\n" +
		"POST /c HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
		"GET /d HTTP/1.0\n\n"
	want := []sentHead{{"POST", "/a", false}, {"POST", "/b", false}, {"POST", "/c", true}, {"GET", "/d", false}}
	for _, size := range []int{len(stream), 1, 2, 7} {
		var f headFramer
		for i := 0; i < len(stream); i += size {
			f.feed([]byte(stream[i:min(i+size, len(stream))]))
		}
		require.Equal(t, want, f.heads, "reads of %d bytes", size)
		require.Equal(t, stRequestLine, f.state)
		ambiguous, ok := f.claim("POST", "/c")
		require.True(t, ok)
		require.True(t, ambiguous)
		_, ok = f.claim("POST", "/a")
		require.False(t, ok, "heads before a claimed one are gone")
	}
}

// TestHeadFramerStopsAtWhatItCannotFollow: framing it cannot follow turns
// it off, so no later bytes are taken for a header.
func TestHeadFramerStopsAtWhatItCannotFollow(t *testing.T) {
	t.Parallel()
	for _, stream := range []string{
		"POST /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: x\r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXX",
		"POST /a HTTP/1.1\r\n folded\r\n\r\n",
		"NOSPACE\r\n\r\n",
	} {
		var f headFramer
		f.feed([]byte(stream + "POST /b HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"))
		require.Equal(t, stOff, f.state, "%q", stream)
		_, ok := f.claim("POST", "/b")
		require.False(t, ok, "%q", stream)
	}
}
