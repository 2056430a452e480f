package httpapi

import (
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
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

// TestOpenAPIDescribesEveryRoute: each route the server serves is an
// operation of the description, and each operation a route.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var spec struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(openAPISpec, &spec))
	var documented []string
	for path, ops := range spec.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	s, err := New(nil, nil, nil, slog.New(slog.DiscardHandler), Config{})
	require.NoError(t, err)
	var served []string
	for _, r := range s.engine.Routes() {
		param := "{call_id}"
		if strings.HasPrefix(r.Path, "/webhooks/") {
			param = "{webhook_id}"
		}
		if strings.HasPrefix(r.Path, "/campaigns/") {
			param = "{campaign_id}"
		}
		path := strings.ReplaceAll(r.Path, ":number", "{number}")
		served = append(served, r.Method+" "+strings.ReplaceAll(path, ":id", param))
	}
	slices.Sort(documented)
	slices.Sort(served)
	require.Equal(t, documented, served)
}

// TestOpenAPIDescribesTheLists: GET /calls is described with the very
// query parameters it takes, and both list endpoints with their statuses.
func TestOpenAPIDescribesTheLists(t *testing.T) {
	type operation struct {
		Parameters []struct {
			Name string `yaml:"name"`
			In   string `yaml:"in"`
		} `yaml:"parameters"`
		Responses map[string]any `yaml:"responses"`
	}
	var spec struct {
		Paths map[string]map[string]operation `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(openAPISpec, &spec))

	list := spec.Paths["/calls"]["get"]
	var names []string
	for _, p := range list.Parameters {
		require.Equal(t, "query", p.In, p.Name)
		names = append(names, p.Name)
	}
	require.Equal(t, listParams, names)
	for _, status := range []string{"200", "400", "401"} {
		require.Contains(t, list.Responses, status, "GET /calls")
	}
	events := spec.Paths["/call/{call_id}/events"]["get"]
	for _, status := range []string{"200", "400", "401", "404"} {
		require.Contains(t, events.Responses, status, "GET /call/{call_id}/events")
	}
}
