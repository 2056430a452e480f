package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// documentedErrorCodes reads the error codes the served OpenAPI description
// lists for the Error schema.
func (h *harness) documentedErrorCodes() []string {
	h.t.Helper()
	resp, err := checkedClient(h.t).Get(h.srv.URL + "/openapi.yaml")
	require.NoError(h.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	var spec struct {
		Components struct {
			Schemas map[string]struct {
				Enum []string `yaml:"enum"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	require.NoError(h.t, yaml.Unmarshal(raw, &spec))
	codes := spec.Components.Schemas["ErrorCode"].Enum
	require.NotEmpty(h.t, codes)
	return codes
}

// requireErrorShape checks an answer is the one JSON error shape with a
// documented code, and returns that code.
func requireErrorShape(t *testing.T, r response, documented []string) string {
	t.Helper()
	require.Contains(t, r.Header.Get("Content-Type"), "application/json", r.Raw)
	require.Equal(t, false, r.Body["success"], r.Raw)
	require.NotEmpty(t, r.Body["message"], r.Raw)
	e, ok := r.Body["error"].(map[string]any)
	require.True(t, ok, r.Raw)
	code, _ := e["code"].(string)
	require.Contains(t, documented, code, "error code outside the documented set: %s", r.Raw)
	return code
}

// TestRouteErrorsAreJSONWithDocumentedCodes: a wrong method, an unknown path
// and a path with a trailing slash are answered in the JSON error shape with
// a code of the error set; none is a plain-text answer or a redirect.
func TestRouteErrorsAreJSONWithDocumentedCodes(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	documented := h.documentedErrorCodes()
	noRedirect := &http.Client{Transport: checkedTransport(t, nil),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	id := uuid.NewString()
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodDelete, "/call/outbound", http.StatusMethodNotAllowed, "method_not_allowed", "GET, POST"}, // GET is /call/{call_id}
		{http.MethodPut, "/call/" + id, http.StatusMethodNotAllowed, "method_not_allowed", "GET"},
		{http.MethodPost, "/call/outbound/", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/call/" + id + "/", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/healthz/", http.StatusNotFound, "not_found", ""},
		{http.MethodGet, "/nope", http.StatusNotFound, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, h.srv.URL+tt.path, strings.NewReader(`{}`))
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+h.key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := noRedirect.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			r := response{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
			require.NoError(t, yaml.Unmarshal(raw, &r.Body), "not JSON: %q", raw) // JSON is YAML
			require.Equal(t, tt.status, r.Status, r.Raw)
			require.Empty(t, resp.Header.Get("Location"), "no redirect")
			require.Equal(t, tt.code, requireErrorShape(t, r, documented))
			require.Equal(t, tt.allow, resp.Header.Get("Allow"))
		})
	}
	require.Empty(t, h.queuedTasks())
}
