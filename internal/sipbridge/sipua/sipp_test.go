package sipua_test

import (
	"testing"
	"time"

	"github.com/dialq/dialq/internal/testkit/testenv"
)

// startSipp runs sipp as the Exotel trunk answering one call over transport
// ("tcp" or "udp") with the scenario testenv.SippScenario(scenario); a
// .tmpl scenario is rendered with data first.
func startSipp(t *testing.T, scenario, transport string, data any) *testenv.SippRun {
	t.Helper()
	return testenv.Sipp(t, testenv.SippOptions{Scenario: testenv.SippScenario(scenario), Data: data, Transport: transport,
		Calls: 1, Timeout: 25 * time.Second})
}
