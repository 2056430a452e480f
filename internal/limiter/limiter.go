// Package limiter holds calls under their limits (dialq.Limit: a trunk's,
// a tenant's, a campaign's) in Redis, shared by every worker process: a
// semaphore with leases per key for the calls live at once, a paced bucket
// per key for the calls dialed per second, and the highest number of
// holders each key has seen. docs/limits.md describes it.
//
// asynq's own x/rate semaphore is built on go-redis v8 and panics with
// asynq 0.26; this one is dialq's, on the client the worker already has.
//
// Redis holds, under the limiter's prefix P, for a limit key K and a call
// id C:
//
//	P sem:K    sorted set: the calls holding a slot of K, scored by when
//	           their lease ends (unix seconds)
//	P peak:K   the most calls that held K at once (kept a month past its
//	           last use)
//	P tat:K    when K's next call may go (unix seconds): the "theoretical
//	           arrival time" of a GCRA-paced bucket of one call
//	P res:K    sorted set: the calls given a turn of K, scored by that turn
//	P tat:dial:K, P res:dial:K
//	           the same for the dials themselves (PaceDial)
//	P held:C   set: what C holds ("c:K" a slot, "r:K" a turn), so that
//	           Release needs only the call's id
//	P thr:C    set once C was held back (Admission.First)
//	P keys     set: every K with a semaphore, for the Janitor
package limiter

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/dialq"
)

// DefaultPrefix is the prefix of the limiter's keys unless configured
// (DIALQ_LIMIT_PREFIX).
const DefaultPrefix = "dialq:limit:"

// DefaultTurnGrace is how long past its turn a paced call keeps it unless
// configured.
const DefaultTurnGrace = 5 * time.Minute

// Config configures a Limiter.
type Config struct {
	// Prefix starts every key (DefaultPrefix when empty); deployments, and
	// tests, that share a Redis give each their own.
	Prefix string
	// Now is the clock leases and turns count on. nil reads Redis's own
	// (TIME), the one clock every worker shares, so that two hosts' skew
	// does not pace a trunk twice as fast. Tests set it.
	Now func() time.Time
	// TurnGrace is how long past its turn a paced call that has not come
	// back (its worker died, it was retried late) keeps it; then it waits
	// for a new turn. DefaultTurnGrace when zero.
	TurnGrace time.Duration
}

// Limiter holds calls under their limits. Its methods are safe for
// concurrent use, by any number of processes sharing the Redis.
type Limiter struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
	grace  time.Duration
}

// New returns the limiter of cfg on rdb.
func New(rdb redis.UniversalClient, cfg Config) *Limiter {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.TurnGrace <= 0 {
		cfg.TurnGrace = DefaultTurnGrace
	}
	return &Limiter{rdb: rdb, prefix: cfg.Prefix, now: cfg.Now, grace: cfg.TurnGrace}
}

var (
	//go:embed acquire.lua
	acquireLua    string
	acquireScript = redis.NewScript(acquireLua)
	//go:embed release.lua
	releaseLua    string
	releaseScript = redis.NewScript(releaseLua)
	// sweepScript drops a semaphore's leases past their end, forgets it
	// once empty and returns its holders.
	sweepScript = redis.NewScript(`
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local m = redis.call('ZRANGE', KEYS[1], 0, -1)
if #m == 0 then
  redis.call('SREM', KEYS[2], ARGV[2])
end
return m`)
	holdersScript = redis.NewScript(`
local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')`)
)

// Acquire asks for call id to be dialed under limits, all or nothing,
// holding its slots for lease (the most the call may last: its ring time,
// its maximum duration and a margin; lease expiry frees the slots of a
// call whose end was never seen). It is idempotent for id: a call that
// holds its slots already (a retried task) keeps them, and takes no
// second. Limits that cap nothing are left out; two of the same key count
// as the stricter.
//
// The Admission is OK when id holds a slot of every limit and may be
// dialed now. Otherwise nothing was taken if a limit is Full; if the call
// is paced, it was given its turn, Wait from now, and holds its slots
// meanwhile: it asks again then, and goes. A turn not taken within the
// limiter's TurnGrace is lost.
func (l *Limiter) Acquire(ctx context.Context, id uuid.UUID, limits []dialq.Limit, lease time.Duration) (dialq.Admission, error) {
	return l.run(ctx, id, limits, lease, false, true)
}

// dialKey is the key of the bucket PaceDial spaces the dials of key's
// calls in.
func dialKey(key string) string { return "dial:" + key }

// PaceDial spaces the dials themselves: call id, about to be dialed, is
// given its turn among the dials under each calls-per-second limit of
// limits, 1/PerSecond after the dial before it. Acquire paces when calls
// start; the steps between a call's start and its dial (its room, its
// agent's join) do not take every call the same time, and a carrier counts
// the dials. The Admission is OK, or its Wait is the time until the turn it
// was given: asking again then is OK.
func (l *Limiter) PaceDial(ctx context.Context, id uuid.UUID, limits []dialq.Limit) (dialq.Admission, error) {
	var rate []dialq.Limit
	for _, lim := range merge(limits) {
		if lim.PerSecond > 0 {
			rate = append(rate, dialq.Limit{Key: dialKey(lim.Key), PerSecond: lim.PerSecond})
		}
	}
	a, err := l.run(ctx, id, rate, 0, false, false)
	a.By.Key = strings.TrimPrefix(a.By.Key, dialKey(""))
	return a, err
}

// Hold keeps call id among the holders of each concurrency limit of limits,
// whatever their count: a call already dialed (recovered after a crash)
// takes back its slots, or keeps them with a lease from now, and is never
// paced again. The count may then be over the limit, as the calls live
// are.
func (l *Limiter) Hold(ctx context.Context, id uuid.UUID, limits []dialq.Limit, lease time.Duration) error {
	var conc []dialq.Limit
	for _, lim := range merge(limits) {
		if lim.MaxConcurrent > 0 {
			lim.PerSecond = 0
			conc = append(conc, lim)
		}
	}
	_, err := l.run(ctx, id, conc, lease, true, false)
	return err
}

// run runs the acquire script for id under limits: forced, it takes the
// slots whatever their count; noted, a call held back is marked
// (Admission.First).
func (l *Limiter) run(ctx context.Context, id uuid.UUID, limits []dialq.Limit, lease time.Duration, force, noted bool) (dialq.Admission, error) {
	var conc, rate []dialq.Limit
	for _, lim := range merge(limits) {
		if lim.MaxConcurrent > 0 {
			conc = append(conc, lim)
		}
		if lim.PerSecond > 0 {
			rate = append(rate, lim)
		}
	}
	if len(conc) == 0 && len(rate) == 0 {
		return dialq.Admission{OK: true}, nil
	}
	c := id.String()
	keys := []string{l.prefix + "held:" + c, l.prefix + "keys", l.prefix + "thr:" + c}
	args := []any{l.clock(), c, seconds(lease), len(conc), len(rate), seconds(l.grace), flag(force), flag(noted)}
	for _, lim := range conc {
		keys = append(keys, l.prefix+"sem:"+lim.Key, l.prefix+"peak:"+lim.Key)
		args = append(args, lim.MaxConcurrent)
	}
	for _, lim := range rate {
		keys = append(keys, l.prefix+"tat:"+lim.Key, l.prefix+"res:"+lim.Key)
		args = append(args, seconds(time.Duration(float64(time.Second)/lim.PerSecond)))
	}
	for _, lim := range conc {
		args = append(args, lim.Key)
	}
	for _, lim := range rate {
		args = append(args, lim.Key)
	}
	res, err := acquireScript.Run(ctx, l.rdb, keys, args...).Slice()
	if err != nil {
		return dialq.Admission{}, fmt.Errorf("acquire limits of call %s: %w", id, err)
	}
	if len(res) != 5 {
		return dialq.Admission{}, fmt.Errorf("acquire limits of call %s: unexpected answer %v", id, res)
	}
	ok, _ := res[0].(int64)
	kind, _ := res[1].(string)
	i, _ := res[2].(int64)
	waitUS, _ := res[3].(int64)
	first, _ := res[4].(int64)
	a := dialq.Admission{OK: ok == 1, First: first == 1}
	switch kind {
	case "full":
		a.Full, a.By = true, conc[i-1]
	case "paced":
		a.By, a.Wait = rate[i-1], time.Duration(waitUS)*time.Microsecond
	}
	return a, nil
}

// Release frees what call id holds: its slots, its turns. It is safe to
// call for a call that holds nothing, and more than once: every worker
// releases each call it hears has ended.
func (l *Limiter) Release(ctx context.Context, id uuid.UUID) error {
	return l.release(ctx, id, nil)
}

// release frees what call id holds and its slot of each of also (keys the
// Janitor found it in, in case its held set is gone).
func (l *Limiter) release(ctx context.Context, id uuid.UUID, also []string) error {
	c := id.String()
	held := l.prefix + "held:" + c
	members, err := l.rdb.SMembers(ctx, held).Result()
	if err != nil {
		return fmt.Errorf("release limits of call %s: %w", id, err)
	}
	keys := []string{held, l.prefix + "thr:" + c}
	for _, m := range members {
		switch {
		case strings.HasPrefix(m, "c:"):
			keys = append(keys, l.prefix+"sem:"+m[2:])
		case strings.HasPrefix(m, "r:"):
			keys = append(keys, l.prefix+"res:"+m[2:])
		}
	}
	for _, k := range also {
		if k := l.prefix + "sem:" + k; !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	if err := releaseScript.Run(ctx, l.rdb, keys, c).Err(); err != nil {
		return fmt.Errorf("release limits of call %s: %w", id, err)
	}
	return nil
}

// holders returns every call holding a slot of any key, with those keys.
// On the way it drops the leases past their end, forgets the keys nobody
// holds, and removes members that are not call ids.
func (l *Limiter) holders(ctx context.Context) (map[uuid.UUID][]string, error) {
	keys, err := l.rdb.SMembers(ctx, l.prefix+"keys").Result()
	if err != nil {
		return nil, fmt.Errorf("list limit keys: %w", err)
	}
	out := map[uuid.UUID][]string{}
	const batch = 200
	for len(keys) > 0 {
		part := keys[:min(len(keys), batch)]
		keys = keys[len(part):]
		// EVAL, not EVALSHA: a pipeline cannot load a script it misses.
		pipe := l.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(part))
		now := l.clock()
		for i, k := range part {
			cmds[i] = sweepScript.Eval(ctx, pipe, []string{l.prefix + "sem:" + k, l.prefix + "keys"}, now, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("list holders of limits: %w", err)
		}
		for i, cmd := range cmds {
			members, err := cmd.StringSlice()
			if err != nil {
				return nil, fmt.Errorf("list holders of %s: %w", part[i], err)
			}
			for _, m := range members {
				id, err := uuid.Parse(m)
				if err != nil {
					l.rdb.ZRem(ctx, l.prefix+"sem:"+part[i], m)
					continue
				}
				out[id] = append(out[id], part[i])
			}
		}
	}
	return out, nil
}

// Holders returns how many calls hold a slot of key now (leases not
// expired).
func (l *Limiter) Holders(ctx context.Context, key string) (int, error) {
	n, err := holdersScript.Run(ctx, l.rdb, []string{l.prefix + "sem:" + key}, l.clock()).Int()
	if err != nil {
		return 0, fmt.Errorf("count holders of %s: %w", key, err)
	}
	return n, nil
}

// Peak returns the most calls that ever held a slot of key at once: what a
// test asserts max_concurrency by, and metrics read.
func (l *Limiter) Peak(ctx context.Context, key string) (int, error) {
	n, err := l.rdb.Get(ctx, l.prefix+"peak:"+key).Int()
	if err == redis.Nil {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read peak of %s: %w", key, err)
	}
	return n, nil
}

// clock is the scripts' now argument: the configured clock's, or -1 for
// Redis's own.
func (l *Limiter) clock() string {
	if l.now == nil {
		return "-1"
	}
	return strconv.FormatFloat(float64(l.now().UnixMicro())/1e6, 'f', 6, 64)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 6, 64) }

// merge returns limits without those that cap nothing, one per key: of two
// with the same key, each cap is the stricter.
func merge(limits []dialq.Limit) []dialq.Limit {
	out := make([]dialq.Limit, 0, len(limits))
	for _, lim := range limits {
		lim.MaxConcurrent = max(lim.MaxConcurrent, 0)
		if lim.PerSecond < 0 || math.IsNaN(lim.PerSecond) || math.IsInf(lim.PerSecond, 0) {
			lim.PerSecond = 0
		}
		if !lim.Caps() {
			continue
		}
		i := slices.IndexFunc(out, func(o dialq.Limit) bool { return o.Key == lim.Key })
		if i < 0 {
			out = append(out, lim)
			continue
		}
		out[i].MaxConcurrent = stricter(out[i].MaxConcurrent, lim.MaxConcurrent)
		out[i].PerSecond = stricter(out[i].PerSecond, lim.PerSecond)
	}
	return out
}

// stricter is the lower of two caps, where 0 is no cap.
func stricter[T int | float64](a, b T) T {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}
