package sipbridge_test

import (
	"os"
	"testing"

	"github.com/dialq/dialq/internal/testkit/testenv"
)

func TestMain(m *testing.M) {
	testenv.QuietLiveKitSDK()
	os.Exit(m.Run())
}
