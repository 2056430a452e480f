package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/httpapi"
)

// onlyReader hides bytes.Reader's Len, so http.Client cannot learn the
// length and sends the body chunked.
type onlyReader struct{ io.Reader }

// requireTooLarge checks an answer is the JSON 413. An answer read off a
// raw connection has not been through checkedClient: it is checked against
// the OpenAPI document here, as the answer to POST /call/outbound.
func requireTooLarge(t *testing.T, resp *http.Response) {
	t.Helper()
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.Request == nil {
		checkRead(t, http.MethodPost, "/call/outbound", resp, raw)
	}
	var body map[string]any
	require.NoError(t, json.Unmarshal(raw, &body), "%s", raw)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, body)
	require.Equal(t, false, body["success"])
	require.Equal(t, "too_large", body["error"].(map[string]any)["code"])
	require.Contains(t, body["message"], "64 KiB")
}

// TestOversizedBodyIsAnswered413: a body over MaxBodyBytes gets the JSON 413
// an ordinary client reads, whether its Content-Length says so or it comes
// chunked, instead of the connection reset it got when the server stopped
// reading it mid-way.
func TestOversizedBodyIsAnswered413(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	big := bytes.Repeat([]byte("x"), 5<<20) // 5 MB
	over := big[:httpapi.MaxBodyBytes+1]
	tests := []struct {
		name    string
		body    io.Reader
		chunked bool
		key     string
	}{
		{"content-length", bytes.NewReader(big), false, h.key},
		{"chunked", onlyReader{bytes.NewReader(big)}, true, h.key},
		{"content-length, no key", bytes.NewReader(big), false, ""},
		{"one byte over, content-length", bytes.NewReader(over), false, h.key},
		{"one byte over, chunked", onlyReader{bytes.NewReader(over)}, true, h.key},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/call/outbound?wait=0", tt.body)
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			if tt.key != "" {
				req.Header.Set("Authorization", "Bearer "+tt.key)
			}
			resp, err := checkedClient(t).Do(req)
			require.NoError(t, err, "the client reads an answer, not a reset")
			require.Equal(t, tt.chunked, req.ContentLength == 0, "length unknown: sent chunked")
			requireTooLarge(t, resp)
		})
	}

	// Within the limit, a chunked body is read as any other.
	b, err := json.Marshal(h.body(nil))
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+"/call/outbound?wait=0", onlyReader{bytes.NewReader(b)})
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.key)
	resp, err := checkedClient(t).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	require.Len(t, h.queuedTasks(), 1)
}

// TestOversizedBodyAnswerReachesAClientThatSendsFirst: a client that writes
// its whole body before it reads (as Python's urllib does) still reads the
// 413: the server answers, then keeps reading what it refused.
func TestOversizedBodyAnswerReachesAClientThatSendsFirst(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("chunked=%v", chunked), func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
			require.NoError(t, err)
			defer conn.Close()
			require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
			const size = 12 << 20 // more than loopback's socket buffers hold
			head := "POST /call/outbound HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
			w := bufio.NewWriterSize(conn, 64<<10)
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			if chunked {
				fmt.Fprintf(w, "%sTransfer-Encoding: chunked\r\n\r\n", head)
				for sent := 0; sent < size; sent += len(chunk) {
					fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk)
				}
				fmt.Fprint(w, "0\r\n\r\n")
			} else {
				fmt.Fprintf(w, "%sContent-Length: %d\r\n\r\n", head, size)
				for sent := 0; sent < size; sent += len(chunk) {
					w.Write(chunk)
				}
			}
			require.NoError(t, w.Flush(), "the server reads the whole body")
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			require.NoError(t, err)
			requireTooLarge(t, resp)
		})
	}
}

// TestOversizedBodyWaitingFor100ContinueIsNotDrained: a client that asks
// Expect: 100-continue sends no body after a final answer, so the server
// answers 413 and closes at once instead of waiting to drain a body that
// never comes.
func TestOversizedBodyWaitingFor100ContinueIsNotDrained(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.srv.URL, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	fmt.Fprintf(conn, "POST /call/outbound HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n", 5<<20)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	requireTooLarge(t, resp)
	_, err = br.ReadByte()
	require.ErrorIs(t, err, io.EOF, "the server closes without waiting for the body")
}
