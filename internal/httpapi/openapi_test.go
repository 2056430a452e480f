package httpapi

import (
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/dialq/dialq/internal/dialq"
)

// TestOpenAPIDescribesEveryStatus keeps the served OpenAPI description in
// step with the code: every status an error code or a call outcome maps to
// is documented for POST /call/outbound.
func TestOpenAPIDescribesEveryStatus(t *testing.T) {
	var spec struct {
		Paths map[string]map[string]struct {
			Responses map[string]any `yaml:"responses"`
		} `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(openAPISpec, &spec))
	post := spec.Paths["/call/outbound"]["post"].Responses
	require.NotEmpty(t, post)
	want := []int{http.StatusOK, http.StatusAccepted}
	for code, status := range statusOf {
		if code == dialq.EMETHOD {
			continue // the answer to a method no operation has; documented with the codes
		}
		want = append(want, status)
	}
	for _, r := range []dialq.FailureReason{dialq.ReasonBusy, dialq.ReasonCarrier, dialq.ReasonLiveKit, dialq.ReasonInternal} {
		want = append(want, HTTPStatus(r.ErrorCode()))
	}
	slices.Sort(want)
	for _, code := range slices.Compact(want) {
		require.Contains(t, post, strconv.Itoa(code), "POST /call/outbound answers %d; document it", code)
	}
	require.Contains(t, spec.Paths, "/call/{call_id}")
	require.Contains(t, spec.Paths, "/call/{call_id}/hangup")
}
