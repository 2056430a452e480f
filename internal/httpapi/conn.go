package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/dialq/dialq/internal/dialq"
)

// ListenAndServe is srv.ListenAndServe through Serve.
func ListenAndServe(srv *http.Server) error {
	addr := srv.Addr
	if addr == "" {
		addr = ":http"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return Serve(srv, ln)
}

// Serve is srv.Serve(ln) with what net/http does not let a handler do. It
// sets srv.ConnContext (keeping one already set).
//
//   - A request with both Content-Length and Transfer-Encoding is refused
//     with a 400 (RFC 9112 section 6.3 says it "ought to be handled as an
//     error": a proxy in front that frames by Content-Length would read
//     another request than dialq). net/http accepts it and drops
//     Content-Length before a handler runs, so the connection's bytes are
//     followed to see each request's header.
//   - The plain-text 400 and 431 that net/http writes itself, for a request
//     line or header it cannot parse, are written in dialq's JSON error
//     shape instead.
func Serve(srv *http.Server, ln net.Listener) error {
	prev := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prev != nil {
			ctx = prev(ctx, c)
		}
		if fc, ok := c.(*framedConn); ok {
			ctx = context.WithValue(ctx, framedConnKey{}, fc)
		}
		return ctx
	}
	return srv.Serve(framedListener{ln})
}

type framedConnKey struct{}

type framedListener struct{ net.Listener }

func (l framedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &framedConn{Conn: c}, nil
}

// framedConn follows the requests read from it (headFramer) and turns
// net/http's own plain-text error answers into JSON.
type framedConn struct {
	net.Conn
	mu sync.Mutex // net/http reads from a background goroutine too
	fr headFramer
}

func (c *framedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.fr.feed(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

func (c *framedConn) Write(p []byte) (int, error) {
	if b, ok := jsonServerError(p); ok {
		if _, err := c.Conn.Write(b); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite lets net/http half-close the connection before it closes it
// (its defence against resetting an answer the client has not read yet).
func (c *framedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ambiguousLength reports whether r's header, as sent, had both
// Content-Length and Transfer-Encoding. ok is false when it is not known
// (the request did not come through Serve, or its connection could not be
// followed).
func ambiguousLength(r *http.Request) (ambiguous, ok bool) {
	c, found := r.Context().Value(framedConnKey{}).(*framedConn)
	if !found {
		return false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fr.claim(r.Method, r.RequestURI)
}

// refuseAmbiguousLength answers 400 to a request sent with both
// Content-Length and Transfer-Encoding, and closes its connection: which of
// the two framed it cannot be trusted.
func (s *Server) refuseAmbiguousLength(c *gin.Context) {
	if ambiguous, _ := ambiguousLength(c.Request); ambiguous {
		c.Header("Connection", "close")
		writeError(c, s.log, dialq.InvalidField("Content-Length",
			"header must not be sent with Transfer-Encoding; send one or the other"))
	}
}

// headFramer follows HTTP/1.x framing on the bytes a connection reads, as
// net/http frames it (Transfer-Encoding: chunked from HTTP/1.1 on, else
// Content-Length, else no body), to note for each request header whether
// it had both length headers. Whatever it cannot follow turns it off for
// the rest of the connection; net/http refuses such bytes itself anyway.
type headFramer struct {
	state  framerState
	line   []byte // the line read so far
	remain uint64 // bytes left of a body or chunk
	crlf   int    // bytes of a chunk's closing CRLF seen

	// the header being read
	method, uri string
	http10      bool
	lengths     []string
	encodings   []string

	heads []sentHead // headers read, not yet claimed by their handler
}

type framerState int

const (
	stRequestLine framerState = iota
	stHeader
	stBody
	stChunkSize
	stChunkData
	stChunkEnd
	stTrailer
	stOff
)

// sentHead is what a handler asks about its request's header.
type sentHead struct {
	method, uri string
	ambiguous   bool
}

const (
	maxFramedLine  = 1<<20 + 4096 // net/http's default MaxHeaderBytes and its slack
	maxQueuedHeads = 1024
)

func (f *headFramer) feed(b []byte) {
	for len(b) > 0 && f.state != stOff {
		switch f.state {
		case stBody, stChunkData:
			n := uint64(len(b))
			if n > f.remain {
				n = f.remain
			}
			b, f.remain = b[n:], f.remain-n
			if f.remain == 0 {
				if f.state == stBody {
					f.state = stRequestLine
				} else {
					f.state, f.crlf = stChunkEnd, 0
				}
			}
		case stChunkEnd:
			if b[0] != "\r\n"[f.crlf] {
				f.state = stOff
				return
			}
			b = b[1:]
			if f.crlf++; f.crlf == 2 {
				f.state = stChunkSize
			}
		default: // line by line
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				f.line = append(f.line, b...)
				if len(f.line) > maxFramedLine {
					f.state = stOff
				}
				return
			}
			f.line = append(f.line, b[:i]...)
			b = b[i+1:]
			f.onLine(string(bytes.TrimSuffix(f.line, []byte("\r"))))
			f.line = f.line[:0]
		}
	}
}

func (f *headFramer) onLine(line string) {
	switch f.state {
	case stRequestLine:
		// split as net/http does
		method, rest, ok1 := strings.Cut(line, " ")
		uri, proto, ok2 := strings.Cut(rest, " ")
		if !ok1 || !ok2 {
			f.state = stOff
			return
		}
		f.method, f.uri, f.http10 = method, uri, proto == "HTTP/1.0"
		f.lengths, f.encodings = f.lengths[:0], f.encodings[:0]
		f.state = stHeader
	case stHeader:
		if line == "" {
			f.endHead()
			return
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || line[0] == ' ' || line[0] == '\t' { // malformed, or a folded line
			f.state = stOff
			return
		}
		value = strings.Trim(value, " \t")
		switch {
		case strings.EqualFold(name, "Content-Length"):
			f.lengths = append(f.lengths, value)
		case strings.EqualFold(name, "Transfer-Encoding"):
			f.encodings = append(f.encodings, value)
		}
	case stChunkSize:
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseUint(strings.TrimRight(size, " \t"), 16, 64)
		switch {
		case err != nil:
			f.state = stOff
		case n == 0:
			f.state = stTrailer
		default:
			f.state, f.remain = stChunkData, n
		}
	case stTrailer:
		if line == "" {
			f.state = stRequestLine
		}
	}
}

// endHead records the header just read and moves on to its body.
func (f *headFramer) endHead() {
	if len(f.heads) == maxQueuedHeads {
		f.state = stOff
		return
	}
	f.heads = append(f.heads, sentHead{f.method, f.uri, len(f.lengths) > 0 && len(f.encodings) > 0})
	switch {
	case len(f.encodings) > 0 && !f.http10: // net/http ignores it on HTTP/1.0
		if len(f.encodings) != 1 || !strings.EqualFold(f.encodings[0], "chunked") {
			f.state = stOff // net/http answers 501 and closes
			return
		}
		f.state = stChunkSize
	case len(f.lengths) > 0:
		n, err := strconv.ParseUint(f.lengths[0], 10, 63)
		for _, l := range f.lengths[1:] {
			if l != f.lengths[0] {
				err = fmt.Errorf("differing Content-Length headers")
			}
		}
		if err != nil {
			f.state = stOff // net/http answers 400 and closes
			return
		}
		f.state, f.remain = stBody, n
		if n == 0 {
			f.state = stRequestLine
		}
	default:
		f.state = stRequestLine
	}
}

// claim returns what was seen of the header of the request method uri: the
// first recorded one with that request line. Headers before it were of
// requests no handler saw (net/http answers OPTIONS * itself).
func (f *headFramer) claim(method, uri string) (ambiguous, ok bool) {
	for len(f.heads) > 0 {
		h := f.heads[0]
		f.heads = f.heads[1:]
		if h.method == method && h.uri == uri {
			return h.ambiguous, true
		}
	}
	return false, false
}

// serverErrorPattern matches, byte for byte, the whole answer net/http
// writes itself to a request it cannot parse (net/http's server.go, after
// readRequest fails): a status line, two fixed headers, no Date, and the
// status again as the body. Answers dialq writes always carry a Date.
var serverErrorPattern = regexp.MustCompile(
	`\AHTTP/1\.1 (400|431) ([^\r\n]*)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n([^\r\n]*)\z`)

// jsonServerError returns p, if it is such a net/http answer with status
// 400 or 431, in dialq's JSON error shape with the same status.
func jsonServerError(p []byte) ([]byte, bool) {
	m := serverErrorPattern.FindSubmatch(p)
	if m == nil {
		return nil, false
	}
	status, _ := strconv.Atoi(string(m[1]))
	reason := string(m[2])
	if string(m[3]) != string(m[1])+" "+reason {
		return nil, false
	}
	detail, _ := strings.CutPrefix(reason, http.StatusText(status))
	detail = strings.TrimPrefix(detail, ": ")
	var e *dialq.Error
	switch {
	case status == http.StatusRequestHeaderFieldsTooLarge:
		e = dialq.Errorf(dialq.ETOOLARGE, "The request headers are larger than the server reads.")
	case detail != "":
		e = dialq.Errorf(dialq.EINVALID, "Malformed HTTP request: %s.", detail)
	default:
		e = dialq.Errorf(dialq.EINVALID, "Malformed HTTP request: the request line or a header could not be parsed.")
	}
	body, err := json.Marshal(errorBody{Message: e.Message, Error: errorDetail{Code: e.Code}})
	if err != nil {
		return nil, false
	}
	return fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		status, http.StatusText(status), len(body), body), true
}
