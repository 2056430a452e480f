package e2e

import (
	"os"
	"testing"

	"github.com/dialq/dialq/internal/testkit/testenv"
)

func TestMain(m *testing.M) {
	testenv.QuietLiveKitSDK()
	code := m.Run()
	if workerBin != "" {
		os.RemoveAll(workerBin[:len(workerBin)-len("/worker")])
	}
	os.Exit(code)
}
