package httpapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/testkit/openapicheck"
)

// apiDocument is the served OpenAPI document, loaded once for the package.
var apiDocument = sync.OnceValues(func() (*openapicheck.Checker, error) {
	return openapicheck.New(httpapi.OpenAPIDocument())
})

// checker is the OpenAPI check of every answer this package's tests read.
func checker(t testing.TB) *openapicheck.Checker {
	t.Helper()
	c, err := apiDocument()
	require.NoError(t, err)
	return c
}

// checkedClient is the client every test here asks the API with: each
// answer is validated against the OpenAPI document, and one the document
// does not describe fails t. The only answers not read through it are
// those of the raw connections of conn_test.go, to requests no operation
// can describe (request lines and framings the server refuses before
// routing).
func checkedClient(t testing.TB) *http.Client {
	return checker(t).Client(t)
}

// checkedTransport wraps base (http.DefaultTransport when nil) the same way,
// for a test that needs a client of its own (no redirects followed).
func checkedTransport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	return checker(t).Transport(t, base)
}

// checkRead validates an answer a test read off a raw connection, to a
// request it wrote as method and path.
func checkRead(t testing.TB, method, path string, resp *http.Response, body []byte) {
	t.Helper()
	req, err := http.NewRequest(method, path, nil)
	require.NoError(t, err)
	if err := checker(t).Check(req, resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("openapicheck: the answer does not match the OpenAPI document: %v", err)
	}
}

// TestServedOpenAPIDocumentLoads: the document the API serves is valid
// OpenAPI 3.1, as kin-openapi reads it, and /openapi.json is the same
// document as /openapi.yaml.
func TestServedOpenAPIDocumentLoads(t *testing.T) {
	t.Parallel()
	checker(t)
	api, err := httpapi.New(nil, nil, nil, slog.New(slog.DiscardHandler), httpapi.Config{})
	require.NoError(t, err)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	read := func(path string) (string, []byte) {
		resp, err := checkedClient(t).Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.Header.Get("Content-Type"), b
	}
	yamlType, yamlDoc := read("/openapi.yaml")
	jsonType, jsonDoc := read("/openapi.json")
	require.Equal(t, "application/yaml", yamlType)
	require.Equal(t, "application/json", jsonType)
	require.Equal(t, httpapi.OpenAPIDocument(), yamlDoc)

	// The same document: YAML's values through JSON's data model.
	var fromYAML, fromJSON any
	require.NoError(t, yaml.Unmarshal(yamlDoc, &fromYAML))
	b, err := json.Marshal(fromYAML)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &fromYAML))
	require.NoError(t, json.Unmarshal(jsonDoc, &fromJSON))
	require.Equal(t, fromYAML, fromJSON)
	require.Equal(t, "3.1.0", fromJSON.(map[string]any)["openapi"])
	_, err = openapicheck.New(jsonDoc)
	require.NoError(t, err, "the JSON document loads as the YAML one does")
}
