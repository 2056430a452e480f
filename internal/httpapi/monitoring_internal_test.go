package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMaskErrorMessages: Asynqmon's API answers reach the browser with each
// task's last error masked, and nothing else changed.
func TestMaskErrorMessages(t *testing.T) {
	t.Parallel()
	// Asynqmon's own shapes: a task, and a list of them with counts.
	answers := map[string]string{
		"/monitoring/api/queues/calls/tasks/01a2":  `{"id":"01a2","queue":"calls","payload":"{\"call_id\":\"01a2\"}","error_message":"dial +15550200000 through trunk ST_x: cpu exhausted","max_retry":3}` + "\n",
		"/monitoring/api/queues/calls/retry_tasks": `{"tasks":[{"id":"a","error_message":"dial +15550200001: x"},{"id":"b","error_message":""}],"stats":{"size":12345678901234567}}` + "\n",
		"/monitoring/api/redis_info":               "not JSON: +15550200002\n",
		"/monitoring/queues/calls":                 `<html>{"error_message":"+15550200003"}</html>`,
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "read-only +15550200004", http.StatusMethodNotAllowed)
			return
		}
		_, _ = io.WriteString(w, answers[r.URL.Path])
	})
	serve := func(h http.Handler, method, path string) (int, string, http.Header) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code, rec.Body.String(), rec.Header()
	}

	masked := maskErrorMessages(inner, redactor{})
	code, body, hdr := serve(masked, http.MethodGet, "/monitoring/api/queues/calls/tasks/01a2")
	require.Equal(t, http.StatusOK, code)
	require.JSONEq(t, `{"id":"01a2","queue":"calls","payload":"{\"call_id\":\"01a2\"}","error_message":"dial ********0000 through trunk ST_x: cpu exhausted","max_retry":3}`, body)
	require.Equal(t, strconv.Itoa(len(body)), hdr.Get("Content-Length"))

	_, body, _ = serve(masked, http.MethodGet, "/monitoring/api/queues/calls/retry_tasks")
	require.JSONEq(t, `{"tasks":[{"id":"a","error_message":"dial ********0001: x"},{"id":"b","error_message":""}],"stats":{"size":12345678901234567}}`, body,
		"every task of a list; numbers that are not strings kept digit for digit")

	for _, tt := range []struct{ method, path, want string }{
		{http.MethodGet, "/monitoring/api/redis_info", answers["/monitoring/api/redis_info"]},
		{http.MethodGet, "/monitoring/queues/calls", answers["/monitoring/queues/calls"]},
		{http.MethodDelete, "/monitoring/api/queues/calls/tasks/01a2", "read-only +15550200004\n"},
	} {
		_, body, _ = serve(masked, tt.method, tt.path)
		require.Equal(t, tt.want, body, "%s %s passes as it is", tt.method, tt.path)
	}
	code, _, _ = serve(masked, http.MethodDelete, "/monitoring/api/queues/calls/tasks/01a2")
	require.Equal(t, http.StatusMethodNotAllowed, code)

	// DIALQ_MONITORING_MASK_NUMBERS=false: numbers in full.
	_, body, _ = serve(maskErrorMessages(inner, redactor{showNumbers: true}), http.MethodGet, "/monitoring/api/queues/calls/tasks/01a2")
	require.Equal(t, answers["/monitoring/api/queues/calls/tasks/01a2"], body)
}

// TestRedactorShowNumbers: with numbers shown, secrets stay hidden.
func TestRedactorShowNumbers(t *testing.T) {
	t.Parallel()
	p := []byte(`{"to_number":"+15550200000","room_name":"exotel-+918044319240-5ea06a324936","password":"p"}`)
	require.JSONEq(t, `{"to_number":"+15550200000","room_name":"exotel-+918044319240-5ea06a324936","password":"[redacted]"}`, redactor{showNumbers: true}.json(p))
	require.JSONEq(t, `{"to_number":"********0000","room_name":"exotel-*********9240-5ea06a324936","password":"[redacted]"}`, redactor{}.json(p))
}
