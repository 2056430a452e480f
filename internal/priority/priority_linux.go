package priority

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// maxPasses bounds how often Set walks the threads: a pass that finds a
// thread started meanwhile at the old value makes another.
const maxPasses = 5

// Set gives every thread of this process the nice value nice (-20, the
// most CPU, to 19). Linux keeps a nice value per thread and a new thread
// takes its creator's, so once every thread has it, every thread the Go
// runtime starts later has it too. Lowering the value below the current one
// needs CAP_SYS_NICE (or a matching RLIMIT_NICE): without it Set returns an
// error that wraps os.ErrPermission, and the threads keep their value.
func Set(nice int) error {
	if nice < -20 || nice > 19 {
		return fmt.Errorf("nice value %d is outside -20..19", nice)
	}
	for range maxPasses {
		tids, err := threads()
		if err != nil {
			return err
		}
		changed := 0
		for _, tid := range tids {
			cur, err := get(tid)
			if errors.Is(err, syscall.ESRCH) {
				continue // the thread ended
			}
			if err != nil {
				return err
			}
			if cur == nice {
				continue
			}
			err = syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice)
			switch {
			case errors.Is(err, syscall.ESRCH):
				continue
			case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
				return fmt.Errorf("set nice value %d: %w (needs CAP_SYS_NICE)", nice, os.ErrPermission)
			case err != nil:
				return fmt.Errorf("set nice value %d of thread %d: %w", nice, tid, err)
			}
			changed++
		}
		if changed == 0 {
			return nil
		}
	}
	return fmt.Errorf("set nice value %d: threads kept starting at another value", nice)
}

// get returns the nice value of the thread tid of this process.
func get(tid int) (int, error) {
	// The system call answers 20 - nice, so that it is never negative.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return 0, fmt.Errorf("nice value of thread %d: %w", tid, err)
	}
	return 20 - p, nil
}

// threads returns the ids of this process's threads.
func threads() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("list threads: %w", err)
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
