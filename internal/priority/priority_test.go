package priority

import (
	"errors"
	"os"
	"runtime"
	"slices"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetGivesEveryThreadTheValueAndNewThreadsInheritIt(t *testing.T) {
	before, err := threads()
	require.NoError(t, err)
	err = Set(-5)
	if os.Geteuid() != 0 {
		// Without CAP_SYS_NICE the worker logs this and goes on.
		require.ErrorIs(t, err, os.ErrPermission)
		return
	}
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, Set(0)) })

	tids, err := threads()
	require.NoError(t, err)
	for _, tid := range tids {
		n, err := get(tid)
		if errors.Is(err, syscall.ESRCH) {
			continue
		}
		require.NoError(t, err)
		require.Equal(t, -5, n, "thread %d", tid)
	}

	// Goroutines locked to their threads make the runtime start threads
	// for the rest: those must have the value too.
	const locked = 8
	tidc := make(chan int)
	release := make(chan struct{})
	defer close(release)
	for range locked {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tidc <- syscall.Gettid()
			<-release
		}()
	}
	started := 0
	for range locked {
		tid := <-tidc
		n, err := get(tid)
		require.NoError(t, err)
		require.Equal(t, -5, n, "thread %d", tid)
		if !slices.Contains(before, tid) {
			started++
		}
	}
	require.Positive(t, started, "no thread was started after Set: the test proves nothing about new threads")
}

func TestSetRejectsValuesOutsideTheRange(t *testing.T) {
	require.ErrorContains(t, Set(-21), "outside -20..19")
	require.ErrorContains(t, Set(20), "outside -20..19")
}
