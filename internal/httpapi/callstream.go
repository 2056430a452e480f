package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dialq/dialq/internal/dialq"
)

// streamWriteBudget is how long one write of a stream may take before the
// client is taken for gone. Each write sets its own deadline: the server's
// WriteTimeout is sized for a request, not for an hour of stream.
const streamWriteBudget = 30 * time.Second

// eventIDPattern is a plain whole number, as the stream writes ids.
var eventIDPattern = regexp.MustCompile(`^[0-9]{1,18}$`)

// streamParam reads ?stream= of GET /call/{id}/events: true or false, once;
// absent is false. Returns EINVALID naming stream.
func streamParam(rawQuery string) (bool, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return false, dialq.InvalidField("query", "is not a valid query string: %v", err)
	}
	vs, ok := q["stream"]
	switch {
	case !ok:
		return false, nil
	case len(vs) > 1:
		return false, dialq.InvalidField("stream", "is given %d times; give it once", len(vs))
	case vs[0] == "true":
		return true, nil
	case vs[0] == "false":
		return false, nil
	}
	return false, dialq.InvalidField("stream", "must be true or false")
}

// lastEventID reads the Last-Event-ID header an EventSource sends when it
// reconnects: the id of the last event it got, after which the stream
// resumes; absent is 0, the whole timeline. Returns EINVALID naming it.
func lastEventID(r *http.Request) (int64, error) {
	vs := r.Header.Values("Last-Event-ID")
	switch {
	case len(vs) == 0:
		return 0, nil
	case len(vs) > 1:
		return 0, dialq.InvalidField("Last-Event-ID", "is given %d times; give it once", len(vs))
	case !eventIDPattern.MatchString(vs[0]):
		return 0, dialq.InvalidField("Last-Event-ID", "must be the id of an event the stream sent, a whole number")
	}
	return strconv.ParseInt(vs[0], 10, 64)
}

// streamEvents answers GET /call/{id}/events?stream=true: the call's
// timeline after event after as Server-Sent Events, then each new event as
// it is recorded, until the call is terminal, the client goes away, the
// stream has lasted MaxStream (the client reconnects with Last-Event-ID)
// or the server shuts down. A comment line every StreamHeartbeat keeps
// proxies from closing a quiet stream.
func (s *Server) streamEvents(c *gin.Context, call *dialq.Call, after int64) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.MaxStream)
	defer cancel()
	defer context.AfterFunc(s.streams, cancel)()

	h := c.Writer.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	es := &eventStream{w: c.Writer, rc: http.NewResponseController(c.Writer)}
	c.Status(http.StatusOK)
	if err := es.flush(); err != nil {
		return
	}

	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		t := time.NewTicker(s.cfg.StreamHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := es.heartbeat(); err != nil {
					cancel()
					return
				}
			case <-done:
				return
			}
		}
	})
	err := s.calls.Follow(ctx, call, after, es.event)
	close(done)
	wg.Wait()
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		s.log.Debug("event stream reached its longest life", "call_id", call.ID, "max", s.cfg.MaxStream)
	case errors.Is(err, context.Canceled):
	default:
		s.log.Warn("event stream broke", "call_id", call.ID, "err", err)
	}
}

// eventStream writes Server-Sent Events, each flushed as written. The
// heartbeat and the events write from two goroutines, so writes take mu.
type eventStream struct {
	mu sync.Mutex
	w  gin.ResponseWriter
	rc *http.ResponseController
}

// event writes ev as one message: its id, its kind as the event type, and
// its JSON as in the list of GET /call/{id}/events.
func (es *eventStream) event(ev dialq.CallEvent) error {
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	return es.write(fmt.Sprintf("id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Kind, data))
}

func (es *eventStream) heartbeat() error { return es.write(": heartbeat\n\n") }

func (es *eventStream) write(msg string) error {
	es.mu.Lock()
	defer es.mu.Unlock()
	if err := es.rc.SetWriteDeadline(time.Now().Add(streamWriteBudget)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if _, err := es.w.WriteString(msg); err != nil {
		return err
	}
	return es.rc.Flush()
}

func (es *eventStream) flush() error {
	es.mu.Lock()
	defer es.mu.Unlock()
	if err := es.rc.SetWriteDeadline(time.Now().Add(streamWriteBudget)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	return es.rc.Flush()
}
