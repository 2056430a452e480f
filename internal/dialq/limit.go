package dialq

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// CallLimits are the caps a trunk or a tenant puts on its calls. Zero is no
// cap. Carriers have their own, which they enforce by refusing calls over
// them: a Twilio SIP trunk takes 1 call per second unless raised, Exotel
// 200 a minute; a user enters them here so dialq paces its dials instead.
type CallLimits struct {
	// MaxConcurrentCalls is how many of its calls may be live at once,
	// from their dial (in fact from just before their room is made) to
	// their end.
	MaxConcurrentCalls int `db:"max_concurrent_calls"`
	// CallsPerSecond is how many of its calls may be dialed per second,
	// spaced evenly (a 1/CallsPerSecond gap between two, no bursts);
	// fractions are allowed: 200 a minute is 3.333.
	CallsPerSecond float64 `db:"calls_per_second"`
}

// MaxCallsPerSecond bounds CallsPerSecond: beyond it a limiter cannot tell
// the dials apart (a gap under a millisecond).
const MaxCallsPerSecond = 1000

// Validate checks l. Returns EINVALID naming the field (prefix + its name)
// that is negative, not a number, or over MaxCallsPerSecond.
func (l CallLimits) Validate(prefix string) error {
	var fields []FieldError
	if l.MaxConcurrentCalls < 0 {
		fields = append(fields, FieldError{Field: prefix + "max_concurrent_calls", Message: "must be 0 (no cap) or more"})
	}
	if r := l.CallsPerSecond; math.IsNaN(r) || r < 0 || r > MaxCallsPerSecond {
		fields = append(fields, FieldError{Field: prefix + "calls_per_second",
			Message: fmt.Sprintf("must be a number from 0 (no cap) to %d", MaxCallsPerSecond)})
	}
	if len(fields) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: invalidMessage(fields), Fields: fields}
}

// Limit returns l as the limit of key, and false when l caps nothing.
func (l CallLimits) Limit(key string) (Limit, bool) {
	lim := Limit{Key: key, MaxConcurrent: max(l.MaxConcurrentCalls, 0), PerSecond: max(l.CallsPerSecond, 0)}
	return lim, lim.Caps()
}

// String describes l by its settings' names, as dialqctl prints it.
func (l CallLimits) String() string {
	var parts []string
	if l.MaxConcurrentCalls > 0 {
		parts = append(parts, fmt.Sprintf("max_concurrent_calls %d", l.MaxConcurrentCalls))
	}
	if l.CallsPerSecond > 0 {
		parts = append(parts, "calls_per_second "+strconv.FormatFloat(l.CallsPerSecond, 'g', -1, 64))
	}
	if len(parts) == 0 {
		return "no call limits"
	}
	return strings.Join(parts, ", ")
}

// Limit is one cap a call is dialed under, named by its key: its trunk's
// (TrunkLimitKey), its tenant's (TenantLimitKey), its campaign's. A call
// is dialed only once it holds a slot of each of its limits, and holds
// them until it ends.
type Limit struct {
	// Key names what is capped, "<kind>:<id>"; calls with the same key
	// share the cap.
	Key string
	// MaxConcurrent is how many calls may hold the limit at once; 0 is no
	// cap.
	MaxConcurrent int
	// PerSecond is how many calls may start per second; 0 is no cap.
	PerSecond float64
}

// Caps reports whether l caps anything.
func (l Limit) Caps() bool { return l.MaxConcurrent > 0 || l.PerSecond > 0 }

// String is the limit's key in words: "trunk ST_abc".
func (l Limit) String() string {
	kind, id, ok := strings.Cut(l.Key, ":")
	if !ok {
		return l.Key
	}
	return kind + " " + id
}

// TrunkLimitKey is the key of trunk id's limit.
func TrunkLimitKey(id string) string { return "trunk:" + id }

// TenantLimitKey is the key of tenant id's limit.
func TenantLimitKey(id uuid.UUID) string { return "tenant:" + id.String() }

// CampaignLimitKey is the key of campaign id's limit: its max_concurrency.
// Its calls_per_second is the scheduler's, which places the calls at that
// pace; the limiter holds the live ones to the cap across every worker.
func CampaignLimitKey(id uuid.UUID) string { return "campaign:" + id.String() }

// Admission is a limiter's answer to a call that asks to be dialed.
type Admission struct {
	// OK: the call holds a slot of each of its limits and may be dialed now.
	OK bool
	// By is the limit that holds the call back when not OK.
	By Limit
	// Full: By has no free slot (MaxConcurrent calls hold it); when one
	// frees is not known. Otherwise the call is paced (By.PerSecond): it
	// has its turn, Wait from now, and holds its slots meanwhile.
	Full bool
	Wait time.Duration
	// First: the call had not been held back before.
	First bool
}

// Reason says in words why the call waits, for its timeline.
func (a Admission) Reason() string {
	if a.Full {
		return fmt.Sprintf("waiting for a free line: %s allows %d concurrent calls and all are in use", a.By, a.By.MaxConcurrent)
	}
	return fmt.Sprintf("waiting for its turn: %s allows %s calls per second; this one is dialed in %s",
		a.By, strconv.FormatFloat(a.By.PerSecond, 'g', 4, 64), a.Wait.Round(time.Millisecond))
}
