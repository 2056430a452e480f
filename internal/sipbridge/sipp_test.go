package sipbridge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dialq/dialq/internal/testkit/testenv"
)

// startSipp runs sipp as the Exotel trunk answering one call over transport
// ("tcp" or "udp") with the scenario testenv.SippScenario(scenario) and the extra
// arguments; a .tmpl scenario is rendered with data first.
func startSipp(t *testing.T, scenario, transport string, data any, extra ...string) *testenv.SippRun {
	t.Helper()
	return testenv.Sipp(t, testenv.SippOptions{Scenario: testenv.SippScenario(scenario), Data: data, Transport: transport,
		Calls: 1, Timeout: 30 * time.Second, Args: extra})
}

// header returns the value of the first header name (case-insensitive) of
// msg, or "".
func header(msg, name string) string {
	head, _, _ := strings.Cut(msg, "\n\n")
	for _, line := range strings.Split(head, "\n")[1:] {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// body returns the body of msg.
func body(msg string) string {
	_, b, _ := strings.Cut(msg, "\n\n")
	return b
}
