package sipdouble_test

import (
	"os"
	"testing"

	"github.com/go-logr/logr"

	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
)

func TestMain(m *testing.M) {
	// The SDK logs its WebRTC (pion) chatter through its global logger, not
	// through the per-room one; keep it out of test output.
	lksdk.SetLogger(protologger.LogRLogger(logr.Discard()))
	os.Exit(m.Run())
}
