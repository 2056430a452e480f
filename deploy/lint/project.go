package main

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/reference"
)

// addrPort is the port of a host:port address such as DIALQ_API_ADDR.
func addrPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// servedPort is the port binary serves HTTP on with env, or an error that
// names the variable.
func servedPort(binary string, env map[string]string) (int, error) {
	s := served[binary]
	addr, ok := env[s.AddrVar]
	if !ok {
		return 0, fmt.Errorf("%s is not set, so the %s's HTTP port is not known here", s.AddrVar, binary)
	}
	port, err := addrPort(addr)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: %v", s.AddrVar, addr, err)
	}
	return port, nil
}

// checkProbe says what is wrong with a probe of binary at path and port.
func checkProbe(binary string, env map[string]string, path string, port int) error {
	if !slices.Contains(served[binary].Paths, path) {
		return fmt.Errorf("probes %s, which the %s does not serve (it serves %s)", path, binary, strings.Join(served[binary].Paths, ", "))
	}
	want, err := servedPort(binary, env)
	if err != nil {
		return err
	}
	if port != want {
		return fmt.Errorf("probes port %d, but the %s listens on %d (%s)", port, binary, want, served[binary].AddrVar)
	}
	return nil
}

// checkProbeURL checks an http://host:port/path probe of binary.
func checkProbeURL(binary string, env map[string]string, raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("probe URL %q: %v", raw, err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return fmt.Errorf("probe URL %q has no port", raw)
	}
	return checkProbe(binary, env, u.Path, port)
}

// drainBudget is how long a worker with env may take to stop: it first lets
// dials in flight finish (DIALQ_SHUTDOWN_TIMEOUT), then drains its bridged
// calls (DIALQ_DRAIN_TIMEOUT); internal/app.Worker.Run. Both must be set
// where the grace period is written, so that a change of default cannot
// silently outgrow it.
func drainBudget(env map[string]string) (time.Duration, error) {
	var total time.Duration
	for _, name := range []string{"DIALQ_SHUTDOWN_TIMEOUT", "DIALQ_DRAIN_TIMEOUT"} {
		v, ok := env[name]
		if !ok {
			return 0, fmt.Errorf("set %s beside the grace period, so the grace period can be checked against it", name)
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("%s=%q: %v", name, v, err)
		}
		total += d
	}
	return total, nil
}

// checkGrace says what is wrong with a worker's grace period.
func checkGrace(env map[string]string, grace time.Duration) error {
	budget, err := drainBudget(env)
	if err != nil {
		return err
	}
	if grace <= budget {
		return fmt.Errorf("grace period %s is not longer than DIALQ_SHUTDOWN_TIMEOUT + DIALQ_DRAIN_TIMEOUT (%s): calls would be cut off", grace, budget)
	}
	return nil
}

// checkPinned says what is wrong with an image reference that is not pinned
// to a tag other than latest or to a digest.
func checkPinned(ref string) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("image %q: %v", ref, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return nil
	}
	tagged, ok := named.(reference.Tagged)
	if !ok {
		return fmt.Errorf("image %q has no tag: pin one", ref)
	}
	if tagged.Tag() == "latest" {
		return fmt.Errorf("image %q: pin a tag other than latest", ref)
	}
	return nil
}

// imageRepo is an image reference's repository as Docker Hub names it
// ("redis", "livekit/livekit-server", "registry.example.com/dialq-api").
func imageRepo(ref string) string {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return ref
	}
	return reference.FamiliarName(named)
}

// hostOf is the host of an address in host:port or URL form.
func hostOf(s string) string {
	if u, err := url.Parse(s); err == nil && u.Host != "" {
		return u.Hostname()
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return ""
}

// checkEnvNames reports each name in env that binary does not read.
func checkEnvNames(r *Report, file, where, binary string, names []string, vars *Vars) {
	for _, n := range names {
		if !vars.Reads(binary, n) {
			r.fail(file, "%s: %s sets %s, which cmd/%s does not read (a typo, or a variable renamed?)", where, binary, n, binary)
		}
	}
}

// unspecifiedHost says whether addr listens on every address.
func unspecifiedHost(addr string) bool {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(h)
	return h == "" || (ip != nil && ip.IsUnspecified())
}

// checkBridgeEnv: a worker whose SIP listener binds every address must say
// where the carrier reaches it (internal/sipbridge/sipua refuses to start
// otherwise).
func checkBridgeEnv(env map[string]string, contactSet bool) error {
	if env["DIALQ_BRIDGE"] == "false" {
		return nil
	}
	if l, ok := env["DIALQ_SIP_LISTEN"]; ok && unspecifiedHost(l) && !contactSet {
		return fmt.Errorf("DIALQ_SIP_LISTEN=%s listens on every address: set DIALQ_SIP_CONTACT_HOST, or the worker refuses to start", l)
	}
	return nil
}
