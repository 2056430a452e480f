package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc CPU times.
var clockTicks = func() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return float64(n)
		}
	}
	return 100
}()

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

// procCPU returns the user+system CPU time pid has used (all of its
// threads): fields 14 and 15.
func procCPU(pid int) (time.Duration, error) {
	f := procStat(pid)
	if len(f) < 13 {
		return 0, fmt.Errorf("no /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return time.Duration((ut + st) / clockTicks * float64(time.Second)), nil
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

// parentOf returns the parent pid of pid, or 0.
func parentOf(pid int) int { return statField(pid, 4) }

// procNice returns the nice value of pid's main thread.
func procNice(pid int) int { return statField(pid, 19) }

// treeCPU returns the CPU time of pid and its direct children (a
// postmaster and its backends). Backends that ended during a window are
// missed; the bench's connections live through each window.
func treeCPU(pid int) time.Duration {
	total, _ := procCPU(pid)
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil || p == pid {
			continue
		}
		if parentOf(p) == pid {
			if t, err := procCPU(p); err == nil {
				total += t
			}
		}
	}
	return total
}

// machineCPU returns the busy and total jiffies of all CPUs, from /proc/stat.
func machineCPU() (busy, total float64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := strings.Fields(sc.Text()) // cpu user nice system idle iowait irq softirq steal ...
	for i, v := range fields[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// cpuWatch measures the CPU use of the machine and of named processes over
// a window.
type cpuWatch struct {
	start         time.Time
	busy0, total0 float64
	pids          map[string]int
	tree          map[string]bool
	cpu0          map[string]time.Duration
}

// watchCPU starts a window. pids names the processes to follow; names in
// tree also count their direct children.
func watchCPU(pids map[string]int, tree map[string]bool) *cpuWatch {
	w := &cpuWatch{start: time.Now(), pids: pids, tree: tree, cpu0: map[string]time.Duration{}}
	w.busy0, w.total0 = machineCPU()
	for name, pid := range pids {
		w.cpu0[name] = w.read(name, pid)
	}
	return w
}

func (w *cpuWatch) read(name string, pid int) time.Duration {
	if w.tree[name] {
		return treeCPU(pid)
	}
	t, _ := procCPU(pid)
	return t
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
	busy, total := machineCPU()
	u := cpuUse{Procs: map[string]float64{}}
	if total > w.total0 {
		u.Machine = (busy - w.busy0) / (total - w.total0) * 100 * float64(numCPU())
	}
	for name, pid := range w.pids {
		d := w.read(name, pid) - w.cpu0[name]
		u.Procs[name] = float64(d) / float64(el) * 100
	}
	return u
}

func numCPU() int {
	n := 0
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "cpu") && len(line) > 3 && line[3] >= '0' && line[3] <= '9' {
			n++
		}
	}
	if n == 0 {
		return 1
	}
	return n
}

// readPidFile reads a pid file of the local stack; 0 if there is none.
func readPidFile(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if n > 0 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", n)); err != nil {
			return 0
		}
	}
	return n
}
