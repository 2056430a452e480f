// Package testbrowser starts headless Chromium for a test, driven through
// the DevTools protocol (chromedp), to see a page as a person's browser
// renders it.
package testbrowser

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// installHint says how to get Chromium where the test looks for it.
const installHint = "install it with `deploy/stack.sh tools` (make test runs it), " +
	"or `apt-get install chromium`"

// Path returns the Chromium binary on PATH, or fails the test saying how
// to install it. A missing browser is a failure, never a skip: the check
// it stands for would silently stop running.
func Path(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("Chromium is not installed (no chromium or chromium-browser on PATH): %s", installHint)
	return ""
}

// New starts headless Chromium with a fresh profile and returns a context
// of its first tab, every action on which is bounded by timeout; the
// browser is closed when the test ends.
//
// The flags keep Chromium from reaching out on its own (component updates,
// sync, background requests): on a machine with no internet it would wait
// on them.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], // headless, no first run, no background networking, no sync
		chromedp.ExecPath(Path(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		// Only loopback resolves: a page's outside resource (Asynqmon's web
		// font stylesheet) fails at once instead of waiting on a network
		// that is not there, which under load outlasted a step's timeout.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1400),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for Chromium to exit
	})
	// The first action starts the browser, which lives as long as the
	// context it ran on: that one has no timeout, the actions' has.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(tab) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start Chromium: %v", err)
		}
	case <-time.After(timeout):
		t.Fatalf("Chromium did not start within %s", timeout)
	}
	ctx, cancelTimeout := context.WithTimeout(tab, timeout)
	t.Cleanup(cancelTimeout)
	return ctx
}
