package httpapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// sseMessage is one Server-Sent Event as a client reads it.
type sseMessage struct {
	ID, Event, Data string
}

// sseStream is an open GET /call/{id}/events?stream=true read by a plain
// net/http client, line by line.
type sseStream struct {
	resp *http.Response
	// messages carries each message, comments apart; it is closed when
	// the server ends the stream.
	messages chan sseMessage
	// comments carries each comment line (the heartbeats).
	comments chan string
}

// openStream opens the call's event stream, resuming after lastID when it
// is not empty, and reads it until the server closes it or the test ends.
func (h *harness) openStream(ctx context.Context, key, id, lastID string) *sseStream {
	h.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.srv.URL+"/call/"+id+"/events?stream=true", nil)
	require.NoError(h.t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := h.client.Do(req)
	require.NoError(h.t, err)
	h.t.Cleanup(func() { resp.Body.Close() })
	s := &sseStream{resp: resp, messages: make(chan sseMessage, 100), comments: make(chan string, 100)}
	if resp.StatusCode != http.StatusOK {
		close(s.messages)
		return s
	}
	go func() {
		defer close(s.messages)
		sc := bufio.NewScanner(resp.Body)
		var m sseMessage
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if m != (sseMessage{}) {
					s.messages <- m
				}
				m = sseMessage{}
			case strings.HasPrefix(line, ":"):
				select {
				case s.comments <- line:
				default:
				}
			case strings.HasPrefix(line, "id: "):
				m.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "event: "):
				m.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				m.Data = strings.TrimPrefix(line, "data: ")
			default:
				h.t.Errorf("unexpected line in the stream: %q", line)
			}
		}
	}()
	return s
}

// next is the stream's next message; it fails the test if none comes in 10 s.
func (s *sseStream) next(t *testing.T) sseMessage {
	t.Helper()
	select {
	case m, ok := <-s.messages:
		require.True(t, ok, "the stream ended early")
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return sseMessage{}
}

// rest is every message up to the end of the stream, which must come
// within d.
func (s *sseStream) rest(t *testing.T, d time.Duration) []sseMessage {
	t.Helper()
	var out []sseMessage
	timeout := time.After(d)
	for {
		select {
		case m, ok := <-s.messages:
			if !ok {
				return out
			}
			out = append(out, m)
		case <-timeout:
			t.Fatalf("the stream did not end within %s; got %v", d, out)
		}
	}
}

// listedEvents is GET /call/{id}/events, each event as its JSON text.
func (h *harness) listedEvents(id string) []string {
	h.t.Helper()
	r := h.do(http.MethodGet, "/call/"+id+"/events", h.key, "", nil)
	require.Equal(h.t, http.StatusOK, r.Status, r.Raw)
	var body struct {
		Data []json.RawMessage `json:"data"`
	}
	require.NoError(h.t, json.Unmarshal([]byte(r.Raw), &body))
	out := make([]string, len(body.Data))
	for i, e := range body.Data {
		out[i] = string(e)
	}
	return out
}

// statusOf is the status an event message says the call moved to.
func statusOf(t *testing.T, m sseMessage) string {
	t.Helper()
	var ev dialq.CallEvent
	require.NoError(t, json.Unmarshal([]byte(m.Data), &ev))
	return string(ev.Status)
}

// requireMessagesAre checks that the stream sent exactly the listed events,
// in order, each with its id and kind.
func requireMessagesAre(t *testing.T, listed []string, got []sseMessage) {
	t.Helper()
	require.Len(t, got, len(listed), "got %v", got)
	for i, m := range got {
		require.JSONEq(t, listed[i], m.Data)
		var ev dialq.CallEvent
		require.NoError(t, json.Unmarshal([]byte(m.Data), &ev))
		require.Equal(t, strconv.FormatInt(ev.ID, 10), m.ID)
		require.Equal(t, ev.Kind, m.Event)
	}
}

// TestEventStreamFollowsCallToItsEnd: the stream sends the timeline so far,
// then each event as the call moves queued → dialing → answered →
// completed, woken by the change notifications (the poll is an hour, so
// only they can wake it), and ends once the completed event is sent.
func TestEventStreamFollowsCallToItsEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *harnessConfig) { c.Calls.PollInterval = time.Hour })
	ctx := context.Background()
	c := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", time.Now().UTC())
	_, err := h.db.StartAttempt(ctx, c.ID)
	require.NoError(t, err)

	s := h.openStream(ctx, h.key, c.ID.String(), "")
	require.Equal(t, http.StatusOK, s.resp.StatusCode)
	require.Equal(t, "text/event-stream", s.resp.Header.Get("Content-Type"))
	require.Equal(t, "no-cache", s.resp.Header.Get("Cache-Control"))
	got := []sseMessage{s.next(t), s.next(t)}
	require.Equal(t, "queued", got[0].Event, "the call's creation is its first event")
	require.Equal(t, "queued", statusOf(t, got[0]))
	require.Equal(t, "attempt", got[1].Event)

	steps := []struct {
		kind   string
		status dialq.CallStatus
		record func() error
	}{
		{"dialing", dialq.StatusDialing, func() error {
			return h.db.MarkDialing(ctx, c.ID, "phone-+15550200000", time.Now())
		}},
		{"answered", dialq.StatusAnswered, func() error {
			_, err := h.db.RecordAnswered(ctx, c.ID, dialq.Participant{SID: "PA_1", Identity: "phone-+15550200000"}, time.Now())
			return err
		}},
		{"completed", dialq.StatusCompleted, func() error {
			_, err := h.db.RecordEnded(ctx, c.ID, dialq.Completed(dialq.EndedByPhone, "phone hung up"), time.Now())
			return err
		}},
	}
	for _, st := range steps {
		require.NoError(t, st.record())
		require.NoError(t, h.notify.CallChanged(ctx, c.ID, st.status))
		m := s.next(t)
		require.Equal(t, st.kind, m.Event)
		got = append(got, m)
	}
	got = append(got, s.rest(t, 5*time.Second)...)
	requireMessagesAre(t, h.listedEvents(c.ID.String()), got)
}

// TestEventStreamResumesAfterLastEventID: a reconnecting client gets the
// events after the one it names, and a call that is over closes the stream
// at once, without waiting for a notification or a poll.
func TestEventStreamResumesAfterLastEventID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *harnessConfig) { c.Calls.PollInterval = time.Hour })
	ctx := context.Background()
	c := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", time.Now().UTC())
	require.NoError(t, h.db.MarkDialing(ctx, c.ID, "phone-+15550200000", time.Now()))
	_, err := h.db.RecordAnswered(ctx, c.ID, dialq.Participant{SID: "PA_1", Identity: "phone-+15550200000"}, time.Now())
	require.NoError(t, err)
	_, err = h.db.RecordEnded(ctx, c.ID, dialq.Completed(dialq.EndedByAgent, "agent left"), time.Now())
	require.NoError(t, err)
	listed := h.listedEvents(c.ID.String())
	require.Len(t, listed, 4, "queued, dialing, answered, completed")

	all := h.openStream(ctx, h.key, c.ID.String(), "").rest(t, 2*time.Second)
	requireMessagesAre(t, listed, all)

	rest := h.openStream(ctx, h.key, c.ID.String(), all[1].ID).rest(t, 2*time.Second)
	requireMessagesAre(t, listed[2:], rest)

	none := h.openStream(ctx, h.key, c.ID.String(), all[3].ID)
	require.Equal(t, http.StatusOK, none.resp.StatusCode)
	require.Empty(t, none.rest(t, 2*time.Second), "after the last event of a call that is over, nothing")
}

// TestEventStreamHeartbeatAndLifetime: a quiet stream sends a comment line
// every StreamHeartbeat and closes after MaxStream.
func TestEventStreamHeartbeatAndLifetime(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(c *harnessConfig) {
		c.HTTP.StreamHeartbeat = 20 * time.Millisecond
		c.HTTP.MaxStream = 500 * time.Millisecond
	})
	c := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", time.Now().UTC())
	s := h.openStream(context.Background(), h.key, c.ID.String(), "")
	select {
	case line := <-s.comments:
		require.Equal(t, ": heartbeat", line)
	case <-time.After(5 * time.Second):
		t.Fatal("no heartbeat")
	}
	rest := s.rest(t, 5*time.Second)
	require.Len(t, rest, 1, "a queued call's one event, then only heartbeats until the stream's end")
	require.Equal(t, "queued", rest[0].Event)
}

// TestEventStreamRefusals: another tenant's call is a 404 as for GET
// /call/{id}; a stream or Last-Event-ID that is not one is a 400 naming it.
func TestEventStreamRefusals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", time.Now().UTC())
	require.NoError(t, h.db.MarkDialing(context.Background(), c.ID, "phone-+15550200000", time.Now()))
	_, _, _, other := h.otherTenant()

	s := h.openStream(context.Background(), other, c.ID.String(), "")
	require.Equal(t, http.StatusNotFound, s.resp.StatusCode)
	require.Equal(t, "application/json; charset=utf-8", s.resp.Header.Get("Content-Type"))

	path := "/call/" + c.ID.String() + "/events"
	for _, q := range []string{"stream=yes", "stream=1", "stream=TRUE", "stream=", "stream=true&stream=true"} {
		requireFieldError(t, h.do(http.MethodGet, path+"?"+q, h.key, "", nil), "stream", "")
	}
	for _, id := range []string{"abc", "-1", "1.5", "1e3"} {
		r := h.doHeaders(http.MethodGet, path+"?stream=true", nil,
			map[string]string{"Authorization": "Bearer " + h.key, "Last-Event-ID": id})
		requireFieldError(t, r, "Last-Event-ID", "whole number")
	}
	r := h.do(http.MethodGet, path+"?stream=false", h.key, "", nil)
	require.Equal(t, http.StatusOK, r.Status, r.Raw)
	require.Len(t, r.Body["data"], 2, "stream=false is the list: queued, dialing")
}

// TestEventStreamEndsAtShutdown: EndStreams (what the API's server runs on
// Shutdown) closes a stream that would otherwise wait for its call for an
// hour, and one opened after it closes at once (its client reconnects to
// another process).
func TestEventStreamEndsAtShutdown(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := h.storeCall(h.tenant, h.assistant, h.twilio, "+15550200000", time.Now().UTC())
	require.NoError(t, h.db.MarkDialing(context.Background(), c.ID, "phone-+15550200000", time.Now()))
	s := h.openStream(context.Background(), h.key, c.ID.String(), "")
	require.Equal(t, "queued", s.next(t).Event)
	require.Equal(t, "dialing", s.next(t).Event)
	h.api.EndStreams()
	require.Empty(t, s.rest(t, 5*time.Second))
	require.Empty(t, h.openStream(context.Background(), h.key, c.ID.String(), "").rest(t, 5*time.Second))
}
