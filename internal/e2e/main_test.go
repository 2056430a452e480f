package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dialq/dialq/internal/testkit/testenv"
)

func TestMain(m *testing.M) {
	testenv.QuietLiveKitSDK()
	code := m.Run()
	built.Range(func(_, v any) bool {
		if b := v.(*builtCmd); b.path != "" {
			os.RemoveAll(filepath.Dir(b.path))
		}
		return true
	})
	os.Exit(code)
}
