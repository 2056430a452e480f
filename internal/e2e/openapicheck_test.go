package e2e

import (
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/httpapi"
	"github.com/dialq/dialq/internal/testkit/openapicheck"
)

// apiDocument is the OpenAPI document the API serves, loaded once.
var apiDocument = sync.OnceValues(func() (*openapicheck.Checker, error) {
	return openapicheck.New(httpapi.OpenAPIDocument())
})

// checkedClient is the client the tests ask the API with: every answer is
// validated against the OpenAPI document and one it does not describe fails
// t. Event streams are checked by status and media type only, and the
// browser's pages of /monitoring (Asynqmon) not at all (openapicheck says
// why).
func checkedClient(t testing.TB) *http.Client {
	t.Helper()
	c, err := apiDocument()
	require.NoError(t, err)
	return c.Client(t)
}
