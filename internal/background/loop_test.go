package background_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/background"
)

// waitFor bounds how long the test waits for a pass it expects.
const waitFor = 5 * time.Second

// TestLoopRunsUntilShutdown: a Loop makes pass after pass; Shutdown cancels
// the one under way and returns only once it has returned; a second
// Shutdown, or one of a loop never started, returns at once.
func TestLoopRunsUntilShutdown(t *testing.T) {
	t.Parallel()
	passes := make(chan int)
	returned := make(chan struct{})
	n := 0
	l := background.Start(time.Millisecond, func(ctx context.Context) {
		n++
		passes <- n
		if n < 3 {
			return
		}
		<-ctx.Done() // the third pass lasts until Shutdown
		close(returned)
	})
	for want := 1; want <= 3; want++ {
		select {
		case got := <-passes:
			require.Equal(t, want, got)
		case <-time.After(waitFor):
			t.Fatalf("no pass %d within %s", want, waitFor)
		}
	}

	l.Shutdown()
	select {
	case <-returned:
	default:
		t.Fatal("Shutdown returned while a pass was under way")
	}
	l.Shutdown()
	var never *background.Loop
	never.Shutdown()
}
