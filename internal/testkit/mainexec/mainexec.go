// Package mainexec runs a binary's main function as a process of its own,
// from the binary's tests: the test binary starts itself again with the
// arguments given and an environment with none of dialq's variables, and
// its TestMain runs main instead of the tests. So a test sees what a user
// sees running the binary (its output and exit status) without building it
// or starting any service.
package mainexec

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// childVar marks the test binary started again to run main.
const childVar = "DIALQ_MAINEXEC_CHILD"

// Main runs main and exits when this process is such a child; otherwise
// it returns at once. Call it first thing in TestMain.
func Main(main func()) {
	if os.Getenv(childVar) != "1" {
		return
	}
	main()
	os.Exit(0)
}

// Result is how the child ended.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs main with args in a child process whose environment holds only
// PATH and HOME, and returns its output and exit status.
func Run(t *testing.T, args ...string) Result {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = []string{childVar + "=1", "PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	case err != nil:
		t.Fatalf("run %s %v: %v", os.Args[0], args, err)
	}
	return r
}
