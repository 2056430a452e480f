package sipua_test

import (
	"testing"
	"time"

	"github.com/dialq/dialq/internal/testenv"
)

// startSipp runs sipp as the Exotel trunk answering one call over transport
// ("tcp" or "udp") with the scenario testdata/<scenario>; a .tmpl scenario
// is rendered with data first.
func startSipp(t *testing.T, scenario, transport string, data any) *testenv.SippRun {
	t.Helper()
	return testenv.Sipp(t, testenv.SippOptions{Scenario: "testdata/" + scenario, Data: data, Transport: transport,
		Calls: 1, Timeout: 25 * time.Second})
}
