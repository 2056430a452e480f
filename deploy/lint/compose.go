package main

import (
	"context"
	"path/filepath"
	"slices"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// CheckCompose loads file with the Compose specification's loader (schema
// validation and consistency checks included) and checks the stack: every
// service pinned and health-checked; Redis durable; the dialq services'
// variables, health checks, dependencies and the worker's stop grace period.
// Interpolated variables take the file's defaults, as on a machine with
// none set.
func CheckCompose(r *Report, file string, vars *Vars, images map[string]*Image) {
	ctx := context.Background()
	details, err := loader.LoadConfigFiles(ctx, []string{file}, filepath.Dir(file))
	if err != nil {
		r.fail(file, "%v", err)
		return
	}
	details.Environment = types.Mapping{}
	p, err := loader.LoadWithContext(ctx, *details)
	if err != nil {
		r.fail(file, "the Compose loader refuses it: %v", err)
		return
	}
	before := len(r.Problems)
	redisChecked := map[string]bool{}
	byFile := map[string]*Image{}
	for _, img := range images {
		byFile[img.File] = img
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		where := "service " + name
		if s.Build == nil {
			if err := checkPinned(s.Image); err != nil {
				r.fail(file, "%s: %v", where, err)
			}
		}
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 {
			r.fail(file, "%s: no healthcheck", where)
		}
		for dep, d := range s.DependsOn {
			if d.Condition == types.ServiceConditionHealthy {
				if t, ok := p.Services[dep]; ok && t.HealthCheck == nil {
					r.fail(file, "%s: waits for %s to be healthy, which has no healthcheck", where, dep)
				}
			}
		}
		if s.Build == nil {
			continue
		}
		df := filepath.Join(s.Build.Context, s.Build.Dockerfile)
		img := byFile[df]
		if img == nil {
			r.fail(file, "%s: builds %s, which is none of the Dockerfiles checked", where, df)
			continue
		}
		checkComposeDialq(r, file, p, s, img, vars, redisChecked)
	}
	if len(r.Problems) == before {
		r.ok("%s: loaded by compose-go; %d services pinned, health-checked, their variables and dependencies", file, len(p.Services))
	}
}

// checkComposeDialq checks a service that runs a dialq image.
func checkComposeDialq(r *Report, file string, p *types.Project, s types.ServiceConfig, img *Image, vars *Vars, redisChecked map[string]bool) {
	where := "service " + s.Name
	env := map[string]string{}
	for k, v := range img.Env {
		env[k] = v
	}
	var names []string
	for k, v := range s.Environment {
		names = append(names, k)
		if v != nil {
			env[k] = *v
		}
	}
	slices.Sort(names)
	checkEnvNames(r, file, where, img.Binary, names, vars)
	if s.HealthCheck != nil {
		urls := probeURLs(s.HealthCheck.Test)
		if len(urls) == 0 {
			r.fail(file, "%s: the healthcheck probes no http:// URL of the %s", where, img.Binary)
		}
		for _, u := range urls {
			if err := checkProbeURL(img.Binary, env, u); err != nil {
				r.fail(file, "%s: healthcheck: %v", where, err)
			}
		}
	}
	// What the service needs must be up first: the hosts of its
	// DATABASE_URL, REDIS_ADDR and LIVEKIT_URL, where they are services of
	// the stack, healthy; and the Redis durable.
	for _, v := range []string{"DATABASE_URL", "REDIS_ADDR", "LIVEKIT_URL"} {
		host := hostOf(env[v])
		dep, ok := p.Services[host]
		if !ok {
			continue // outside the stack
		}
		if d, ok := s.DependsOn[host]; !ok || d.Condition != types.ServiceConditionHealthy {
			r.fail(file, "%s: does not wait for %s (its %s) with condition service_healthy", where, host, v)
		}
		if v == "REDIS_ADDR" && !redisChecked[host] {
			redisChecked[host] = true
			checkRedisFlags(r, file, dep)
		}
	}
	if img.Binary == "worker" {
		if err := checkBridgeEnv(env, env["DIALQ_SIP_CONTACT_HOST"] != ""); err != nil {
			r.fail(file, "%s: %v", where, err)
		}
		grace := 10 * time.Second // Compose's default
		if s.StopGracePeriod != nil {
			grace = time.Duration(*s.StopGracePeriod)
		}
		if err := checkGrace(env, grace); err != nil {
			r.fail(file, "%s: stop_grace_period: %v", where, err)
		}
	}
}

// checkRedisFlags: the queue and the limiter's leases live in Redis, so it
// must persist every write and refuse writes when full rather than evict.
func checkRedisFlags(r *Report, file string, s types.ServiceConfig) {
	for _, want := range [][2]string{{"--appendonly", "yes"}, {"--maxmemory-policy", "noeviction"}} {
		i := slices.Index(s.Command, want[0])
		if i < 0 || i+1 >= len(s.Command) || s.Command[i+1] != want[1] {
			r.fail(file, "service %s: the command must pass %s %s (the queue must survive a restart and never be evicted)", s.Name, want[0], want[1])
		}
	}
}
