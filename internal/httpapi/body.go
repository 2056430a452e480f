package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dialq/dialq/internal/dialq"
)

// Draining bounds: how much of a refused body the server still reads, and
// for how long, so that a client that sends its whole body before it reads
// the answer (Python's urllib does) gets to read the 413 instead of a
// connection reset. What is read is thrown away.
const (
	drainBytes = 16 << 20
	drainTime  = 10 * time.Second
)

// errTooLarge is the answer to a body over MaxBodyBytes.
var errTooLarge = dialq.Errorf(dialq.ETOOLARGE,
	"The request body is larger than %d bytes (%d KiB), the most dialq reads.", MaxBodyBytes, MaxBodyBytes>>10)

// limitBody refuses a request body over MaxBodyBytes with 413 before a
// handler reads it; an upload (POST /campaigns) over MaxUploadBytes, and
// a chunked upload is left to its handler to read as it streams, capped. A body whose Content-Length says it is too large is
// answered at once, then drained (up to drainBytes) so the client can finish
// sending and read the answer. A chunked body is read up to the limit and
// handed on from memory; past the limit, up to drainBytes more are read and
// discarded first, so the answer comes when the client reads.
func (s *Server) limitBody(c *gin.Context) {
	r := c.Request
	limit, tooLarge := int64(MaxBodyBytes), error(errTooLarge)
	upload := isUpload(c)
	if upload {
		limit, tooLarge = s.cfg.MaxUploadBytes, s.uploadTooLarge()
	}
	switch {
	case r.ContentLength > limit:
		rc := http.NewResponseController(c.Writer)
		_ = rc.EnableFullDuplex() // HTTP/1: read the body after the answer is out
		c.Header("Connection", "close")
		writeError(c, s.log, tooLarge)
		_ = rc.Flush()
		// A client waiting for 100 Continue sends no body after a final
		// answer: nothing to drain.
		if r.ContentLength <= drainBytes && !strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
			drain(rc, r.Body)
		}
	case r.ContentLength < 0 && upload: // streamed by its handler, capped there
	case r.ContentLength < 0: // chunked: its length shows only as it is read
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			c.Header("Connection", "close")
			writeError(c, s.log, dialq.InvalidField("body", "could not be read: %v", err))
			return
		}
		if len(body) > MaxBodyBytes {
			if !drain(http.NewResponseController(c.Writer), r.Body) {
				c.Header("Connection", "close")
			}
			writeError(c, s.log, errTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
}

// drain reads and discards what is left of body, up to drainBytes and
// drainTime, and reports whether it read it all.
func drain(rc *http.ResponseController, body io.Reader) bool {
	_ = rc.SetReadDeadline(time.Now().Add(drainTime))
	_, err := io.CopyN(io.Discard, body, drainBytes)
	return errors.Is(err, io.EOF)
}
