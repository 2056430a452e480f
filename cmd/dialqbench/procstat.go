package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times: 100
// on every architecture Linux runs Go on.
const clockTicks = 100

// procStat returns the fields of /proc/<pid>/stat from the third (state)
// on: the command name before them may hold spaces.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.Fields(rest)
}

// statField returns field i (1-based, as proc(5) counts) of pid's stat as
// a number, or 0.
func statField(pid, i int) int {
	f := procStat(pid)
	if len(f) < i-2 {
		return 0
	}
	n, _ := strconv.Atoi(f[i-3])
	return n
}

// procCPU returns the CPU time pid has used, user and system, all of its
// threads (fields 14 and 15).
func procCPU(pid int) time.Duration {
	return time.Duration(statField(pid, 14)+statField(pid, 15)) * time.Second / clockTicks
}

// procNice returns the nice value of pid's main thread.
func procNice(pid int) int { return statField(pid, 19) }

// treeCPU returns the CPU time of pid and its direct children (a
// postmaster and its backends). Backends that ended during a window are
// missed; the bench's connections live through each window.
func treeCPU(pid int) time.Duration {
	total := procCPU(pid)
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		if p, err := strconv.Atoi(filepath.Base(d)); err == nil && p != pid && statField(p, 4) == pid {
			total += procCPU(p)
		}
	}
	return total
}

// machineCPU returns the busy and total jiffies of all CPUs and how many
// CPUs there are, from /proc/stat.
func machineCPU() (busy, total float64, cpus int) {
	b, _ := os.ReadFile("/proc/stat")
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case i == 0 && len(f) > 5 && f[0] == "cpu": // cpu user nice system idle iowait irq softirq steal ...
			for k, v := range f[1:] {
				n, _ := strconv.ParseFloat(v, 64)
				total += n
				if k != 3 && k != 4 { // idle, iowait
					busy += n
				}
			}
		case strings.HasPrefix(line, "cpu"):
			cpus++
		}
	}
	return busy, total, max(cpus, 1)
}

// numCPU is how many CPUs /proc/stat counts.
func numCPU() int {
	_, _, n := machineCPU()
	return n
}

// cpuWatch measures the CPU use of the machine and of named processes over
// a window.
type cpuWatch struct {
	start         time.Time
	busy0, total0 float64
	pids          map[string]int
	cpu0          map[string]time.Duration
}

// watchCPU starts a window over the processes pids names; "postgres"
// counts its backends too.
func watchCPU(pids map[string]int) *cpuWatch {
	w := &cpuWatch{start: time.Now(), pids: pids, cpu0: map[string]time.Duration{}}
	w.busy0, w.total0, _ = machineCPU()
	for name, pid := range pids {
		w.cpu0[name] = w.read(name, pid)
	}
	return w
}

func (w *cpuWatch) read(name string, pid int) time.Duration {
	if name == "postgres" {
		return treeCPU(pid)
	}
	return procCPU(pid)
}

// cpuUse is one window's CPU figures, in percent of one core (100 = one
// core busy the whole window).
type cpuUse struct {
	Machine float64            `json:"machine_pct"` // all cores: 200 = both cores of a 2-core machine busy
	Procs   map[string]float64 `json:"procs_pct"`
}

// stop ends the window.
func (w *cpuWatch) stop() cpuUse {
	el := time.Since(w.start)
	busy, total, cpus := machineCPU()
	u := cpuUse{Procs: map[string]float64{}}
	if total > w.total0 {
		u.Machine = (busy - w.busy0) / (total - w.total0) * 100 * float64(cpus)
	}
	for name, pid := range w.pids {
		u.Procs[name] = float64(w.read(name, pid)-w.cpu0[name]) / float64(el) * 100
	}
	return u
}

// pids names this process ("bench") and the local stack's processes that
// run (postgres, redis, livekit), with extra added or put in their place.
func (e env) pids(extra map[string]int) map[string]int {
	pids := map[string]int{"bench": os.Getpid()}
	for _, name := range []string{"postgres", "redis", "livekit"} {
		if pid := readPidFile(filepath.Join(e.StateDir, "run", name+".pid")); pid > 0 {
			pids[name] = pid
		}
	}
	for name, pid := range extra {
		pids[name] = pid
	}
	return pids
}

// readPidFile reads a pid file of the local stack; 0 if there is none or
// its process is gone.
func readPidFile(path string) int {
	b, _ := os.ReadFile(path)
	line, _, _ := strings.Cut(string(b), "\n")
	n, _ := strconv.Atoi(strings.TrimSpace(line))
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", n)); n <= 0 || err != nil {
		return 0
	}
	return n
}
