package rtpbridge_test

import (
	"os"
	"testing"

	"github.com/dialq/dialq/internal/testenv"
)

func TestMain(m *testing.M) {
	testenv.QuietLiveKitSDK()
	os.Exit(m.Run())
}
