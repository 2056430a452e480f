package httpapi_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/httpapi"
)

// serveFramed serves the harness's API on a real http.Server through
// httpapi.Serve, as cmd/api does, and returns its address.
func (h *harness) serveFramed() string {
	h.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(h.t, err)
	srv := &http.Server{Handler: h.api, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- httpapi.Serve(srv, ln) }()
	h.t.Cleanup(func() {
		srv.Close()
		require.ErrorIs(h.t, <-done, http.ErrServerClosed)
	})
	return ln.Addr().String()
}

// rawAnswer is one answer read off a raw connection.
type rawAnswer struct {
	Status int
	Close  bool // the answer said Connection: close
	Header http.Header
	Body   map[string]any
	Raw    string
}

// exchange writes raw to a new connection to addr and reads answers until
// the server closes it or want answers came.
func exchange(t *testing.T, addr, raw string, want int) []rawAnswer {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	go io.WriteString(conn, raw) // a header too large for the server is not read whole
	br := bufio.NewReader(conn)
	var out []rawAnswer
	for len(out) < want {
		if _, err := br.Peek(1); errors.Is(err, io.EOF) {
			break // closed by the server
		}
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		resp.Body.Close()
		a := rawAnswer{Status: resp.StatusCode, Close: resp.Close, Header: resp.Header, Raw: string(b)}
		if len(b) > 0 {
			require.NoError(t, json.Unmarshal(b, &a.Body), "not JSON: %q", b)
		}
		out = append(out, a)
	}
	return out
}

func statuses(as []rawAnswer) []int {
	s := make([]int, len(as))
	for i, a := range as {
		s[i] = a.Status
	}
	return s
}

// TestBothLengthHeadersAreRefused: a request that sends Content-Length and
// Transfer-Encoding (request smuggling's tool: net/http frames it by the
// chunks and silently drops Content-Length, a proxy in front may frame it by
// Content-Length) is answered 400 naming Content-Length, and its
// connection is closed. Requests around it on the same connection, and
// bodies that only look like such headers, are not mistaken for it.
func TestBothLengthHeadersAreRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	addr := h.serveFramed()
	body, err := json.Marshal(h.body(nil))
	require.NoError(t, err)
	chunked := func(b string) string { return strconv.FormatInt(int64(len(b)), 16) + "\r\n" + b + "\r\n0\r\n\r\n" }
	post := "POST /call/outbound?wait=0 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer " + h.key + "\r\n"
	healthz := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	lookalike := "{\"x\":\"\r\n\r\nGET /healthz HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n\"}"

	tests := []struct {
		name     string
		raw      string
		statuses []int
		refused  int // index of the answer refused for both headers, or -1
	}{
		{"length then chunked", post + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(string(body)), []int{400}, 0},
		{"chunked then length, other case", post + "transfer-encoding: Chunked\r\nCONTENT-LENGTH: 0\r\n\r\n" + chunked(string(body)), []int{400}, 0},
		{"HTTP/1.0", strings.Replace(post, "HTTP/1.1", "HTTP/1.0", 1) + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{400}, 0},
		{"after a good request, and closes", healthz + post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + healthz, []int{200, 400}, 1},
		{"after OPTIONS * that net/http answers", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []int{200, 400}, 1},
		{"OPTIONS * is not taken for the next request", "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + healthz, []int{200, 200}, -1},
		{"a body that looks like such a header", post + "Content-Length: " + strconv.Itoa(len(lookalike)) + "\r\n\r\n" + lookalike + healthz, []int{400, 200}, -1},
		{"a chunked body with extension and trailer", post + "Transfer-Encoding: chunked\r\n\r\n" +
			strconv.FormatInt(int64(len(body)), 16) + ";ext=1\r\n" + string(body) + "\r\n0\r\nX-Trailer: Content-Length: 3\r\n\r\n" + healthz, []int{202, 200}, -1},
		{"only Content-Length", post + "Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + string(body) + healthz, []int{202, 200}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := len(tt.statuses)
			if tt.refused >= 0 {
				want++ // and see the connection closed after the refusal
			}
			as := exchange(t, addr, tt.raw, want)
			require.Equal(t, tt.statuses, statuses(as), "%+v", as)
			for i, a := range as {
				if i != tt.refused {
					require.NotEqual(t, "Content-Length", fieldOf(a), a.Raw)
					continue
				}
				require.Equal(t, "Content-Length", fieldOf(a), a.Raw)
				require.Contains(t, a.Body["message"], "Transfer-Encoding")
				require.True(t, a.Close, "Connection: close")
			}
		})
	}
	require.Len(t, h.queuedTasks(), 2, "only the two unambiguous calls were placed")
}

// fieldOf returns the first field an error answer names, or "".
func fieldOf(a rawAnswer) string {
	e, _ := a.Body["error"].(map[string]any)
	fields, _ := e["fields"].([]any)
	if len(fields) == 0 {
		return ""
	}
	return fields[0].(map[string]any)["field"].(string)
}

// TestServerErrorsAreJSON: what net/http answers itself, before any handler
// (a request line or header it cannot parse, headers over its limit), comes
// in dialq's JSON error shape with net/http's status.
func TestServerErrorsAreJSON(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	addr := h.serveFramed()
	documented := h.documentedErrorCodes()
	tests := []struct {
		name, raw string
		status    int
		code, msg string
	}{
		{"garbage request line", "GARBAGE\r\n\r\n", 400, "invalid", "request line or a header could not be parsed"},
		{"bad version", "GET /healthz HTTP/x\r\nHost: x\r\n\r\n", 400, "invalid", "could not be parsed"},
		{"no Host", "GET /healthz HTTP/1.1\r\n\r\n", 400, "invalid", "missing required Host header"},
		{"bad header name", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400, "invalid", "invalid header name"},
		{"two Content-Lengths", "POST /call/outbound HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400, "invalid", "could not be parsed"},
		{"headers too large", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("x", 1<<20+8192) + "\r\n\r\n", 431, "too_large", "headers are larger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			as := exchange(t, addr, tt.raw, 2)
			require.Len(t, as, 1, "one answer, then the connection is closed")
			a := as[0]
			require.Equal(t, tt.status, a.Status, a.Raw)
			require.Equal(t, "application/json; charset=utf-8", a.Header.Get("Content-Type"))
			require.True(t, a.Close, "Connection: close")
			r := response{Status: a.Status, Header: a.Header, Body: a.Body, Raw: a.Raw}
			require.Equal(t, tt.code, requireErrorShape(t, r, documented))
			require.Contains(t, a.Body["message"], tt.msg)
		})
	}

	// dialq's own answers pass through untouched.
	as := exchange(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 2)
	require.Equal(t, []int{200, 404}, statuses(as))
	require.NotEmpty(t, as[1].Header.Get("Date"))
	require.Equal(t, "not_found", as[1].Body["error"].(map[string]any)["code"])
}
