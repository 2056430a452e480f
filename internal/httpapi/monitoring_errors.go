package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// maskErrorMessages passes Asynqmon's API answers through red: a task's
// last error (error_message) is the error the worker returned, which may
// name the number it dialled ("dial +15550200000 through trunk …"), and
// Asynqmon has no formatter for it as it has for payloads and results.
// Only GETs of the API (MonitoringPath/api/…) are read; the UI's files and
// every other answer pass untouched.
func maskErrorMessages(h http.Handler, red redactor) http.Handler {
	if red.showNumbers {
		return h
	}
	api := MonitoringPath + "/api/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, api) {
			h.ServeHTTP(w, r)
			return
		}
		buf := &bufferedResponse{header: w.Header(), code: http.StatusOK}
		h.ServeHTTP(buf, r)
		body := buf.body.Bytes()
		if masked, ok := maskErrorFields(body, red); ok {
			body = masked
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(buf.code)
		_, _ = w.Write(body)
	})
}

// maskErrorFields masks every "error_message" string in a JSON body; ok is
// false when the body is not JSON (an error text), which then goes as it is.
func maskErrorFields(body []byte, red redactor) ([]byte, bool) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber() // counts and sizes go back digit for digit
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	out, err := json.Marshal(maskErrors(v, red))
	if err != nil {
		return nil, false
	}
	return append(out, '\n'), true
}

func maskErrors(v any, red redactor) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "error_message" {
				v[k] = red.text(s)
				continue
			}
			v[k] = maskErrors(x, red)
		}
	case []any:
		for i, x := range v {
			v[i] = maskErrors(x, red)
		}
	}
	return v
}

// bufferedResponse holds an answer until it has been masked.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) WriteHeader(code int)        { b.code = code }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
