package e2e

import (
	"os"
	"testing"

	"github.com/go-logr/logr"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func TestMain(m *testing.M) {
	// The SDK logs WebRTC chatter through its global logger; keep it out.
	lksdk.SetLogger(protologger.LogRLogger(logr.Discard()))
	code := m.Run()
	if workerBin != "" {
		os.RemoveAll(workerBin[:len(workerBin)-len("/worker")])
	}
	os.Exit(code)
}
