package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Targets from issue 2.
const (
	targetRatio     = 1.2
	targetAddedP50  = 5 * time.Millisecond
	targetAddedP99  = 20 * time.Millisecond
	sustainFraction = 0.98 // of the offered rate, for (b) to count as sustained
)

// report is everything one run found.
type report struct {
	Date     string          `json:"date"`
	Commit   string          `json:"commit"`
	Machine  machineInfo     `json:"machine"`
	Versions []string        `json:"versions"`
	Accept   *acceptResult   `json:"accept,omitempty"`
	Sync     *syncResult     `json:"sync,omitempty"`
	Idle     *idleResult     `json:"idle,omitempty"`
	Join     *joinResult     `json:"join,omitempty"`
	Bridge   *bridgeResult   `json:"bridge,omitempty"`
	List     *listResult     `json:"list,omitempty"`
	Webhook  *webhookResult  `json:"webhook,omitempty"`
	Soak     *soakResult     `json:"soak,omitempty"`
	Campaign *campaignResult `json:"campaign,omitempty"`
	Upload   *uploadResult   `json:"campaign_upload,omitempty"`
	Broken   []string        `json:"broken,omitempty"`
}

type machineInfo struct {
	NProc      int    `json:"nproc"`
	CPUModel   string `json:"cpu_model"`
	MemGiB     int    `json:"mem_gib"`
	Kernel     string `json:"kernel"`
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
}

func newReport(ctx context.Context, e env) *report {
	r := &report{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Commit: gitCommit(), Versions: []string{runtime.Version()}}
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	meminfo, _ := os.ReadFile("/proc/meminfo")
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	var kb int
	fmt.Sscanf(string(meminfo), "MemTotal: %d kB", &kb)
	r.Machine = machineInfo{NProc: runtime.NumCPU(), CPUModel: "unknown", MemGiB: (kb + 512*1024) / (1024 * 1024),
		Kernel: strings.TrimSpace(string(kernel)), LoadBefore: loadAverage()}
	if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(cpuinfo); m != nil {
		r.Machine.CPUModel = string(m[1])
	}
	if db, err := sql.Open("postgres", e.DatabaseURL); err == nil {
		var v, sc string
		if db.QueryRowContext(ctx, "SHOW server_version").Scan(&v) == nil && db.QueryRowContext(ctx, "SHOW synchronous_commit").Scan(&sc) == nil {
			r.Versions = append(r.Versions, "PostgreSQL "+strings.Fields(v)[0], "synchronous_commit="+sc)
		}
		db.Close()
	}
	rdb := redis.NewClient(&redis.Options{Addr: e.RedisAddr})
	if info, err := rdb.Info(ctx, "server").Result(); err == nil {
		if m := regexp.MustCompile(`redis_version:(\S+)`).FindStringSubmatch(info); m != nil {
			r.Versions = append(r.Versions, "Redis "+m[1])
		}
	}
	rdb.Close()
	if out, err := exec.CommandContext(ctx, filepath.Join(e.StateDir, "bin", "livekit-server"), "--version").Output(); err == nil {
		r.Versions = append(r.Versions, strings.TrimSpace(string(out)))
	}
	return r
}

func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		c += " (with uncommitted changes)"
	}
	return c
}

func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func signedMs(d time.Duration) string {
	return fmt.Sprintf("%+.2f", float64(d)/float64(time.Millisecond))
}

// markdown renders the figures block of docs/benchmarks.md.
func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("Run of %s at commit %s on %d cores (%s, %d GiB), kernel %s; %s. Load average before/after: %s / %s.\n\n",
		r.Date, r.Commit, r.Machine.NProc, r.Machine.CPUModel, r.Machine.MemGiB, r.Machine.Kernel,
		strings.Join(r.Versions, ", "), r.Machine.LoadBefore, r.Machine.LoadAfter)

	if a := r.Accept; a != nil {
		o := a.Options
		p("#### (a) Accept path, `POST /call/outbound?wait=0`\n\n")
		p("Closed loop, %d keep-alive connections, %s warm-up + %s measured per round, %d rounds per arm alternating; median round.\n\n",
			o.Conns, o.Warmup, o.Duration, o.Rounds)
		p("| arm | requests/s | p50 ms | p99 ms | errors | requests/s of each round |\n|---|---:|---:|---:|---:|---|\n")
		for _, arm := range []struct {
			name string
			s    stats
		}{{"dialq", a.Dialq}, {"reference", a.Reference}} {
			var each []string
			for _, rd := range a.Rounds {
				if rd.Arm == arm.name {
					each = append(each, fmt.Sprintf("%.0f", rd.RPS))
				}
			}
			p("| %s | %.0f | %s | %s | %d | %s |\n", arm.name, arm.s.RPS, msf(arm.s.P50), msf(arm.s.P99), arm.s.Errors, strings.Join(each, ", "))
		}
		p("\n**Ratio dialq / reference: %.2f** (target ≥ %.1f): **%s**. Calls stored by both arms: %d.\n\n",
			a.Ratio, targetRatio, verdict(a.Ratio >= targetRatio), a.Rows)
		p("CPU during each measured window (%% of one core; the machine has %d):\n\n", r.Machine.NProc)
		p("| round | arm | requests/s | machine | server | postgres | redis | load generator |\n|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, rd := range a.Rounds {
			c := rd.CPU
			p("| %d | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n", rd.Round, rd.Arm, rd.RPS, c.Machine, c.Procs["server"], c.Procs["postgres"], c.Procs["redis"], c.Procs["bench"])
		}
		p("\n")
	}

	if s := r.Sync; s != nil {
		o := s.Options
		p("#### (b) Synchronous call: dialq vs the three LiveKit requests made directly\n\n")
		p("Open loop at %.0f calls/s, %s warm-up + %s measured per round, %d rounds per arm (alternating order), samples pooled. "+
			"SIP double answers 200 after %s without joining the room (both arms); room empty timeout %s (both arms).\n\n",
			o.Rate, o.Warmup, o.Duration, o.Rounds, o.InviteDelay, o.RoomEmptyTimeout)
		p("| arm | worker TaskCheckInterval | answered/s | errors | p50 ms | p90 ms | p99 ms | max ms | added p50 ms | added p99 ms | target (p50 ≤ %s, p99 ≤ %s ms) |\n",
			msf(targetAddedP50), msf(targetAddedP99))
		p("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		d := s.Direct
		p("| direct | – | %.0f | %d | %s | %s | %s | %s | | | |\n", d.RPS, d.Errors, msf(d.P50), msf(d.P90), msf(d.P99), msf(d.Max))
		for k, st := range s.Dialq {
			addP50, addP99 := st.P50-d.P50, st.P99-d.P99
			sustained := st.Errors == 0 && d.Errors == 0 && st.RPS >= sustainFraction*o.Rate && d.RPS >= sustainFraction*o.Rate
			v := verdict(sustained && addP50 <= targetAddedP50 && addP99 <= targetAddedP99)
			if !sustained {
				v += " (rate not sustained or errors)"
			}
			p("| dialq | %s | %.0f | %d | %s | %s | %s | %s | %s | %s | **%s** |\n", o.TCIs[k], st.RPS, st.Errors,
				msf(st.P50), msf(st.P90), msf(st.P99), msf(st.Max), signedMs(addP50), signedMs(addP99), v)
		}
		p("\nCPU during each measured window (%% of one core):\n\n")
		p("| round | arm | answered/s | p50 ms | p99 ms | machine | livekit-server | dialq API+worker | load generator | SIP double | postgres | redis |\n")
		p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, rd := range s.Rounds {
			c := rd.CPU
			label := rd.Arm
			if rd.Arm == "dialq" {
				label = "dialq@" + rd.TCI.String()
			}
			server := "–"
			if rd.Arm == "dialq" {
				server = fmt.Sprintf("%.0f", c.Procs["server"])
			}
			p("| %d | %s | %.0f | %s | %s | %.0f | %.0f | %s | %.0f | %.0f | %.0f | %.0f |\n", rd.Round, label, rd.RPS, msf(rd.P50), msf(rd.P99),
				c.Machine, c.Procs["livekit"], server, c.Procs["bench"], c.Procs["double"], c.Procs["postgres"], c.Procs["redis"])
		}
		p("\n")
	}

	if i := r.Idle; i != nil {
		o := i.Options
		p("#### (c) Idle cost of the worker's TaskCheckInterval, next to its pickup latency\n\n")
		p("One asynq worker configured as cmd/worker (concurrency 200, one queue, DelayedTaskCheckInterval 1s), alone on a private redis-server; "+
			"idle for %s, then %.0f tasks/s at random (Poisson) times for %s; pickup = enqueue → handler start.\n\n", o.Window, o.PickupRate, o.PickupWindow)
		p("| TaskCheckInterval | Redis commands/s | of which EVALSHA/s | worker CPU %% | redis-server CPU %% | pickup p50 ms | pickup p99 ms | tasks |\n")
		p("|---|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, row := range i.Rows {
			p("| %s | %.0f | %.0f | %.2f | %.2f | %s | %s | %d |\n", row.TCI, row.CommandsPerSec, row.EvalPerSec, row.WorkerCPU, row.RedisCPU,
				msf(row.PickupP50), msf(row.PickupP99), row.PickupN)
		}
		p("\n")
	}

	if j := r.Join; j != nil {
		o := j.Options
		p("#### Phones that join the room over WebRTC (direct arm only)\n\n")
		p("SIP double joining each call's room as the phone participant (publishing a silent audio track), hanging up %s after answering; "+
			"open loop at %.0f calls/s for %s after %s warm-up.\n\n", o.HangUpAfter, o.Rate, o.Duration, o.Warmup)
		p("| calls/s | errors | p50 ms | p99 ms | machine CPU %% | livekit-server CPU %% | double CPU %% | CPU-s per call (livekit + double) | projected cores at 200 calls/s | livekit UDP ports |\n")
		p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		c := j.CPU
		p("| %.0f | %d | %s | %s | %.0f | %.0f | %.0f | %.3f | %.1f | %d |\n", j.RPS, j.Errors, msf(j.P50), msf(j.P99), c.Machine,
			c.Procs["livekit"], c.Procs["double"], j.CPUPerCall["livekit"]+j.CPUPerCall["double"], j.CoresAt200, j.RTCPorts)
		p("\n")
	}
	if br := r.Bridge; br != nil && len(br.Runs) > 0 {
		b.WriteString(br.markdown(r.Machine.NProc))
	}
	if l := r.List; l != nil {
		b.WriteString(l.markdown())
	}
	if w := r.Webhook; w != nil {
		b.WriteString(w.markdown())
	}
	if s := r.Soak; s != nil {
		b.WriteString(s.markdown())
	}
	if u := r.Upload; u != nil {
		b.WriteString(u.markdown())
	}
	if c := r.Campaign; c != nil {
		b.WriteString(c.markdown())
	}
	if len(r.Broken) > 0 {
		p("Broken: %s\n\n", strings.Join(r.Broken, "; "))
	}
	return b.String()
}

const (
	docsBegin = "<!-- dialqbench:begin (written by `make bench`; edits inside are lost) -->"
	docsEnd   = "<!-- dialqbench:end -->"
)

// updateDocs replaces the figures block of path with md.
func updateDocs(path, md string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, docsBegin), strings.Index(s, docsEnd)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no figures block (%s ... %s)", path, docsBegin, docsEnd)
	}
	out := s[:i] + docsBegin + "\n\n" + md + s[j:]
	return os.WriteFile(path, []byte(out), 0o644)
}
