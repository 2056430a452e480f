package main

import (
	"os"
	"testing"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/testkit/mainexec"
)

func TestMain(m *testing.M) {
	mainexec.Main(main)
	os.Exit(m.Run())
}

// TestHelp: worker -h lists what it reads and exits 0 without any service;
// anything else on its command line is exit 2.
func TestHelp(t *testing.T) {
	t.Parallel()
	mainexec.RequireHelp(t, app.WorkerBinary)
}
