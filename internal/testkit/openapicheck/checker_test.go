package openapicheck_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/testkit/openapicheck"
)

// document is a small OpenAPI 3.1 description in dialq's shape: strict
// objects, a nullable field as a type array, the Error schema for unknown
// paths.
const document = `
openapi: 3.1.0
info: {title: t, version: '1'}
paths:
  /thing/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string, format: uuid}}
      responses:
        '200':
          description: The thing.
          headers:
            X-Count: {schema: {type: integer}}
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                required: [id, name, note]
                properties:
                  id: {type: string, format: uuid}
                  name: {type: string}
                  note: {type: [string, "null"]}
        '404':
          description: None.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Error'}
  /ping:
    get:
      responses:
        '200': {description: No body.}
  /events:
    get:
      responses:
        '200':
          description: A stream.
          content:
            text/event-stream:
              schema: {type: string}
components:
  schemas:
    Error:
      type: object
      additionalProperties: false
      required: [success, message]
      properties:
        success: {const: false}
        message: {type: string}
`

const id = "01a21294-61f3-7662-87fa-b3a3ad26ea68"

// recorder is a testing.TB that keeps what the transport reports.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// answer serves one fixed answer per path.
func answer(t *testing.T, answers map[string]func(http.ResponseWriter)) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"success":false,"message":"No such endpoint."}`)
			return
		}
		a(w)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func jsonAnswer(status int, body string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func TestTransport(t *testing.T) {
	checker, err := openapicheck.New([]byte(document))
	require.NoError(t, err)

	tests := []struct {
		name   string
		path   string
		answer func(http.ResponseWriter)
		// fails is what the report says; empty, the answer passes.
		fails string
	}{
		{name: "a documented answer passes", path: "/thing/" + id,
			answer: jsonAnswer(200, `{"id":"`+id+`","name":"a","note":null}`)},
		{name: "an undocumented field fails", path: "/thing/" + id,
			answer: jsonAnswer(200, `{"id":"`+id+`","name":"a","note":"n","colour":"red"}`), fails: "colour"},
		{name: "a missing required field fails", path: "/thing/" + id,
			answer: jsonAnswer(200, `{"id":"`+id+`","note":null}`), fails: "name"},
		{name: "a field of the wrong type fails", path: "/thing/" + id,
			answer: jsonAnswer(200, `{"id":"`+id+`","name":7,"note":null}`), fails: "name"},
		{name: "a bad format fails", path: "/thing/" + id,
			answer: jsonAnswer(200, `{"id":"not-a-uuid","name":"a","note":null}`), fails: "uuid"},
		{name: "an undocumented status fails", path: "/thing/" + id,
			answer: jsonAnswer(500, `{"success":false,"message":"boom"}`), fails: "status is not supported"},
		{name: "an undocumented media type fails", path: "/thing/" + id,
			answer: func(w http.ResponseWriter) { w.Header().Set("Content-Type", "text/plain"); io.WriteString(w, "hi") },
			fails:  "text/plain"},
		{name: "a header breaking its schema fails", path: "/thing/" + id,
			answer: func(w http.ResponseWriter) {
				w.Header().Set("X-Count", "many")
				jsonAnswer(200, `{"id":"`+id+`","name":"a","note":null}`)(w)
			}, fails: "X-Count"},
		{name: "a body where none is documented fails", path: "/ping",
			answer: func(w http.ResponseWriter) { io.WriteString(w, "x") }, fails: "no body"},
		{name: "no body where none is documented passes", path: "/ping",
			answer: func(w http.ResponseWriter) {}},
		{name: "an unknown path answered with the Error passes", path: "/nope"},
		{name: "an unknown path answered otherwise fails", path: "/nope2",
			answer: jsonAnswer(200, `{"ok":true}`), fails: "no operation"},
		{name: "an event stream is checked by its status and media type", path: "/events",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: {}\n\n")
			}},
		{name: "an event stream on an undocumented status fails", path: "/events",
			answer: func(w http.ResponseWriter) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(201)
			}, fails: "status is not supported"},
		{name: "Asynqmon is not checked", path: "/monitoring/api/queues",
			answer: jsonAnswer(200, `{"queues":[]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers := map[string]func(http.ResponseWriter){}
			if tt.answer != nil {
				answers[tt.path] = tt.answer
			}
			url := answer(t, answers)
			rec := &recorder{TB: t}
			client := &http.Client{Transport: checker.Transport(rec, nil)}
			resp, err := client.Get(url + tt.path)
			require.NoError(t, err)
			// The test still reads the whole body it was sent.
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			if tt.answer != nil && !strings.HasPrefix(tt.path, "/events") {
				rr := httptest.NewRecorder()
				tt.answer(rr)
				require.Equal(t, rr.Body.String(), string(body))
			}
			if tt.fails == "" {
				require.Empty(t, rec.errors)
				return
			}
			require.Len(t, rec.errors, 1)
			require.Contains(t, rec.errors[0], tt.fails)
		})
	}
}

func TestNewRefusesABadDocument(t *testing.T) {
	_, err := openapicheck.New([]byte("openapi: 3.1.0\ninfo: {title: t}\npaths: {}\n"))
	require.ErrorContains(t, err, "version")
	_, err = openapicheck.New([]byte("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n"))
	require.ErrorContains(t, err, "Error")
}
