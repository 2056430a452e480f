package dialq

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// CampaignStatus is where a campaign is: scheduled (its start_at is still
// ahead), running, paused (by a user or by the auto-pause), then completed
// (every contact done) or canceled.
type CampaignStatus string

// The campaign statuses.
const (
	CampaignScheduled CampaignStatus = "scheduled"
	CampaignRunning   CampaignStatus = "running"
	CampaignPaused    CampaignStatus = "paused"
	CampaignCompleted CampaignStatus = "completed"
	CampaignCanceled  CampaignStatus = "canceled"
)

// Over reports whether the campaign will place no more calls.
func (s CampaignStatus) Over() bool { return s == CampaignCompleted || s == CampaignCanceled }

// Dialing reports whether the campaign's due contacts are dialed now (a
// scheduled campaign starts at its start_at).
func (s CampaignStatus) Dialing() bool { return s == CampaignScheduled || s == CampaignRunning }

// ContactStatus is where a campaign's contact is: pending (waiting for its
// time: the start, a retry's delay, its calling window), calling (a call
// of it is live), then done (its last call's status is its outcome),
// canceled (its campaign was canceled before it was done) or suppressed
// (its number is on the tenant's do-not-call list).
type ContactStatus string

// The contact statuses.
const (
	ContactPending    ContactStatus = "pending"
	ContactCalling    ContactStatus = "calling"
	ContactDone       ContactStatus = "done"
	ContactCanceled   ContactStatus = "canceled"
	ContactSuppressed ContactStatus = "suppressed"
)

// Campaign is a tenant's batch of contacts, called with one assistant
// through one trunk, paced and windowed as its settings say.
type Campaign struct {
	ID          uuid.UUID   `db:"id"`
	TenantID    uuid.UUID   `db:"tenant_id"`
	Name        string      `db:"name"`
	AssistantID uuid.UUID   `db:"assistant_id"`
	TrunkID     string      `db:"trunk_id"`
	Service     CallService `db:"call_service"`
	Settings    CampaignSettings
	Status      CampaignStatus `db:"status"`
	// StatusReason says why it is paused or canceled ("auto-paused: 6 of
	// 10 calls failed in the last 2m0s").
	StatusReason  string     `db:"status_reason"`
	ContactsTotal int        `db:"contacts_total"`
	CreatedAt     time.Time  `db:"created_at"`
	UpdatedAt     time.Time  `db:"updated_at"`
	EndedAt       *time.Time `db:"ended_at"`

	// The scheduler's state: when it last paced the campaign and the
	// fraction of a call it owed then (Pace), the caller ID pool's next
	// turn, and since when its failures count towards the auto-pause (the
	// last resume).
	PacedAt      *time.Time `db:"paced_at"`
	PaceCredit   float64    `db:"pace_credit"`
	CallerIDNext int64      `db:"caller_id_next"`
	FailuresFrom *time.Time `db:"failures_from"`
}

// Contact is one number of a campaign, with the metadata that fills its
// assistant's placeholders.
type Contact struct {
	CampaignID uuid.UUID      `db:"campaign_id"`
	Line       int64          `db:"line"`
	ToNumber   string         `db:"to_number"`
	Metadata   map[string]any `db:"-"`
	Timezone   string         `db:"timezone"`
	Status     ContactStatus  `db:"status"`
	// Outcome is the status of its last call.
	Outcome   CallStatus `db:"outcome"`
	Attempts  int        `db:"attempts"`
	NotBefore time.Time  `db:"not_before"`
	CallID    *uuid.UUID `db:"call_id"`
	UpdatedAt time.Time  `db:"updated_at"`
	// Reason says in words why it is where it is: the retry it waits for,
	// why it was not dialed, why it is done.
	Reason string `db:"reason"`
}

// CampaignSettings is how a campaign dials. Zero fields take the defaults
// of WithDefaults.
type CampaignSettings struct {
	// StartAt is when dialing starts; nil: at once.
	StartAt *time.Time `json:"start_at,omitempty"`
	// Windows are when a contact may be called, in the contact's own local
	// time; none: at any time.
	Windows []CallingWindow `json:"calling_windows,omitempty"`
	// DefaultTimezone is the zone of a contact whose number does not say
	// one (a country with several zones) and that gives none. Default UTC.
	DefaultTimezone string `json:"default_timezone,omitempty"`
	// MaxConcurrency caps the campaign's live calls. Default 10.
	MaxConcurrency int `json:"max_concurrency,omitempty"`
	// CallsPerSecond is the rate calls are started at. Default 1.
	CallsPerSecond float64 `json:"calls_per_second,omitempty"`
	// CallerID is the number every call shows, one of the trunk's; or
	// CallerIDPool, several of them, taken as CallerIDStrategy says.
	CallerID         string           `json:"caller_id,omitempty"`
	CallerIDPool     []string         `json:"caller_id_pool,omitempty"`
	CallerIDStrategy CallerIDStrategy `json:"caller_id_strategy,omitempty"`
	// Retry says which outcomes are dialed again, how often, how much later.
	Retry RetryPolicy `json:"retry"`
	// AutoPause pauses the campaign when too many of its calls fail.
	AutoPause AutoPause `json:"auto_pause"`
	// DialOptions are the per-call options of its calls (ring_timeout,
	// max_duration, ...), as POST /call/outbound takes them; caller_id is
	// the campaign's own.
	DialOptions *DialOptions `json:"dial_options,omitempty"`
}

// CallerIDStrategy is how a call's caller ID is taken from the pool.
type CallerIDStrategy string

// The caller ID strategies.
const (
	// CallerIDRoundRobin takes the pool's numbers in turn.
	CallerIDRoundRobin CallerIDStrategy = "round_robin"
	// CallerIDLocal takes the number sharing the longest leading digits
	// with the callee's (its country, then area code), round robin among
	// equals.
	CallerIDLocal CallerIDStrategy = "local"
)

// CallingWindow is a span of local time on some weekdays.
type CallingWindow struct {
	// Days are the weekdays it applies on: mon, tue, wed, thu, fri, sat,
	// sun. None: every day.
	Days []string `json:"days,omitempty"`
	// Start and End are local times "HH:MM"; End is after Start, "24:00"
	// for midnight.
	Start string `json:"start"`
	End   string `json:"end"`
}

// RetryPolicy says, per outcome, how often a contact is dialed again.
// Rejected calls (the callee declined), suppressed numbers and a do_not_call
// disposition are never dialed again.
type RetryPolicy struct {
	Busy     RetryRule `json:"busy"`
	NoAnswer RetryRule `json:"no_answer"`
	// Failed: the trunk, the carrier or dialq failed the call.
	Failed RetryRule `json:"failed"`
	// Machine: the agent reported answered_by machine (voicemail).
	Machine RetryRule `json:"machine"`
}

// RetryRule is how often and how much later one outcome is retried.
type RetryRule struct {
	// MaxRetries is how many more attempts after the first.
	MaxRetries int `json:"max_retries"`
	// DelaySeconds is how long after a call ends the next one may start
	// (and then only within the contact's window).
	DelaySeconds float64 `json:"delay_seconds"`
}

// AutoPause pauses a campaign whose calls fail too often: FailureRate of
// the calls that ended in the last WindowSeconds, once at least MinCalls did.
type AutoPause struct {
	Disabled      bool    `json:"disabled,omitempty"`
	FailureRate   float64 `json:"failure_rate"`
	WindowSeconds float64 `json:"window_seconds"`
	MinCalls      int     `json:"min_calls"`
}

// Campaign limits and defaults.
const (
	MaxCampaignName           = 200
	MaxCampaignConcurrency    = 1000
	MaxCampaignCallsPerSecond = 100
	MaxRetries                = 10
	MaxRetryDelay             = 7 * 24 * time.Hour
	MaxCallingWindows         = 28
)

// WithDefaults returns s with every unset field at its default.
func (s CampaignSettings) WithDefaults() CampaignSettings {
	if s.DefaultTimezone == "" {
		s.DefaultTimezone = "UTC"
	}
	if s.MaxConcurrency == 0 {
		s.MaxConcurrency = 10
	}
	if s.CallsPerSecond == 0 {
		s.CallsPerSecond = 1
	}
	if len(s.CallerIDPool) > 0 && s.CallerIDStrategy == "" {
		s.CallerIDStrategy = CallerIDRoundRobin
	}
	if s.AutoPause.FailureRate == 0 {
		s.AutoPause.FailureRate = 0.5
	}
	if s.AutoPause.WindowSeconds == 0 {
		s.AutoPause.WindowSeconds = 120
	}
	if s.AutoPause.MinCalls == 0 {
		s.AutoPause.MinCalls = 10
	}
	return s
}

// Validate adds a FieldError, under prefix ("settings." or ""), for every
// bad setting of a campaign calling through service.
func (s CampaignSettings) Validate(service CallService, prefix string, bad func(field, format string, args ...any)) {
	named := func(field, format string, args ...any) { bad(prefix+field, format, args...) }
	if _, err := LoadZone(s.DefaultTimezone); s.DefaultTimezone != "" && err != nil {
		named("default_timezone", "must be an IANA time zone such as America/New_York")
	}
	if s.MaxConcurrency < 0 || s.MaxConcurrency > MaxCampaignConcurrency {
		named("max_concurrency", "must be from 1 to %d", MaxCampaignConcurrency)
	}
	if math.IsNaN(s.CallsPerSecond) || s.CallsPerSecond < 0 || s.CallsPerSecond > MaxCampaignCallsPerSecond {
		named("calls_per_second", "must be a number above 0, at most %d", MaxCampaignCallsPerSecond)
	}
	if len(s.Windows) > MaxCallingWindows {
		named("calling_windows", "has %d windows; at most %d are allowed", len(s.Windows), MaxCallingWindows)
	}
	for i, w := range s.Windows {
		w.validate(fmt.Sprintf("%scalling_windows[%d]", prefix, i), bad)
	}
	switch {
	case s.CallerID != "" && len(s.CallerIDPool) > 0:
		named("caller_id_pool", "cannot be given with caller_id: give one number or a pool")
	case len(s.CallerIDPool) > 0:
		seen := map[string]bool{}
		for i, n := range s.CallerIDPool {
			if seen[n] {
				named(fmt.Sprintf("caller_id_pool[%d]", i), "repeats %s", n)
			}
			seen[n] = true
		}
	}
	switch s.CallerIDStrategy {
	case "", CallerIDRoundRobin, CallerIDLocal:
	default:
		named("caller_id_strategy", "must be one of: round_robin, local")
	}
	for _, r := range []struct {
		name string
		rule RetryRule
	}{{"busy", s.Retry.Busy}, {"no_answer", s.Retry.NoAnswer}, {"failed", s.Retry.Failed}, {"machine", s.Retry.Machine}} {
		if r.rule.MaxRetries < 0 || r.rule.MaxRetries > MaxRetries {
			named("retry."+r.name+".max_retries", "must be from 0 to %d", MaxRetries)
		}
		if math.IsNaN(r.rule.DelaySeconds) || r.rule.DelaySeconds < 0 || r.rule.DelaySeconds > MaxRetryDelay.Seconds() {
			named("retry."+r.name+".delay_seconds", "must be a number of seconds from 0 to %g", MaxRetryDelay.Seconds())
		}
	}
	if a := s.AutoPause; !a.Disabled {
		if math.IsNaN(a.FailureRate) || a.FailureRate < 0 || a.FailureRate > 1 {
			named("auto_pause.failure_rate", "must be a fraction above 0, at most 1")
		}
		if math.IsNaN(a.WindowSeconds) || a.WindowSeconds < 0 || a.WindowSeconds > 86400 {
			named("auto_pause.window_seconds", "must be a number of seconds from 10 to 86400")
		} else if a.WindowSeconds != 0 && a.WindowSeconds < 10 {
			named("auto_pause.window_seconds", "must be a number of seconds from 10 to 86400")
		}
		if a.MinCalls < 0 || a.MinCalls > 100000 {
			named("auto_pause.min_calls", "must be from 1 to 100000")
		}
	}
	if o := s.DialOptions; o != nil {
		if o.CallerID != "" {
			named("dial_options.caller_id", "is the campaign's: give caller_id or caller_id_pool in the settings")
		}
		if o.WaitUntil != "" {
			named("dial_options.wait_until", "is for a request that waits; nothing waits on a campaign's calls")
		}
		o.validate(service, func(field, format string, args ...any) { bad(prefix+"dial_options."+field, format, args...) })
	}
}

// weekdays are the names of CallingWindow.Days, in time.Weekday order.
var weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func (w CallingWindow) validate(field string, bad func(field, format string, args ...any)) {
	for i, d := range w.Days {
		if !slices.Contains(weekdays, d) {
			bad(fmt.Sprintf("%s.days[%d]", field, i), "must be one of: mon, tue, wed, thu, fri, sat, sun")
		}
	}
	start, okS := clockMinutes(w.Start)
	end, okE := clockMinutes(w.End)
	if !okS || start == 24*60 {
		bad(field+".start", "must be a local time HH:MM from 00:00 to 23:59")
	}
	if !okE {
		bad(field+".end", "must be a local time HH:MM from 00:01 to 24:00")
	}
	if okS && okE && end <= start {
		bad(field+".end", "must be after start (%s); a window past midnight is two windows", w.Start)
	}
}

// clockMinutes reads "HH:MM" (00:00 to 24:00) as minutes after midnight.
func clockMinutes(s string) (int, bool) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	if _, err := fmt.Sscanf(s, "%02d:%02d", &h, &m); err != nil || h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// NextOpen returns the first instant at or after t when a contact in loc
// may be called, and when that window closes (the zero time for no
// windows: always open). Windows are read on the local calendar, so a
// window keeps its local hours across a DST change; a start that falls in
// the hour a clock skips opens at the first instant after it. ok is false
// when no window opens within eight days (none applies to any weekday).
func (s CampaignSettings) NextOpen(loc *time.Location, t time.Time) (open, closes time.Time, ok bool) {
	if len(s.Windows) == 0 {
		return t, time.Time{}, true
	}
	local := t.In(loc)
	for day := 0; day <= 8; day++ {
		d := time.Date(local.Year(), local.Month(), local.Day()+day, 0, 0, 0, 0, loc)
		for _, w := range s.Windows {
			if len(w.Days) > 0 && !slices.Contains(w.Days, weekdays[d.Weekday()]) {
				continue
			}
			sm, _ := clockMinutes(w.Start)
			em, _ := clockMinutes(w.End)
			start, end := wallClock(d, sm, loc), wallClock(d, em, loc)
			if !end.After(t) || !end.After(start) {
				continue
			}
			o := start
			if o.Before(t) {
				o = t
			}
			if !ok || o.Before(open) || (o.Equal(open) && end.After(closes)) {
				open, closes, ok = o, end, true
			}
		}
		if ok {
			return open, closes, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// wallClock is minutes after midnight of local day d. A time the clock
// skips (02:30 on a spring DST day) is the first instant after the gap.
func wallClock(d time.Time, minutes int, loc *time.Location) time.Time {
	t := time.Date(d.Year(), d.Month(), d.Day(), minutes/60, minutes%60, 0, 0, loc)
	got := t.Hour()*60 + t.Minute()
	if minutes == 24*60 || got == minutes {
		return t
	}
	// Go read it with one of the two offsets around the gap: the gap ends
	// where the zone in effect ends (read before it) or begins (after).
	zoneStart, zoneEnd := t.ZoneBounds()
	if got < minutes && !zoneEnd.IsZero() {
		return zoneEnd
	}
	return zoneStart
}

// Retry is what a contact's call outcome asks for next.
type Retry struct {
	// Again is true when the contact is dialed again, not before After.
	Again bool
	After time.Time
	// Why says in words why it is or is not ("busy: retry 1 of 2").
	Why string
}

// NextAttempt decides whether a contact whose attempts-th call (counting
// from 1) ended as c did, at c.EndedAt, is dialed again. Rejected calls, a
// do_not_call disposition and canceled calls are never retried.
func (p RetryPolicy) NextAttempt(c *Call, attempts int) Retry {
	var rule RetryRule
	var name string
	switch {
	case c.Report != nil && strings.EqualFold(c.Report.Disposition, DispositionDoNotCall):
		return Retry{Why: "the agent's disposition is do_not_call"}
	case c.Report != nil && c.Report.AnsweredBy == AnsweredByMachine:
		rule, name = p.Machine, "answered by a machine"
	case c.Status == StatusBusy:
		rule, name = p.Busy, "busy"
	case c.Status == StatusNoAnswer:
		rule, name = p.NoAnswer, "no answer"
	case c.Status == StatusFailed:
		rule, name = p.Failed, "failed"
	default:
		return Retry{Why: string(c.Status) + " is not retried"}
	}
	retries := attempts - 1
	if retries >= rule.MaxRetries {
		return Retry{Why: fmt.Sprintf("%s: no retries left (%d of %d used)", name, retries, rule.MaxRetries)}
	}
	at := c.UpdatedAt
	if c.EndedAt != nil {
		at = *c.EndedAt
	}
	return Retry{Again: true, After: at.Add(secondsDuration(rule.DelaySeconds)),
		Why: fmt.Sprintf("%s: retry %d of %d", name, retries+1, rule.MaxRetries)}
}

// DispositionDoNotCall is the agent report's disposition that puts the
// callee's number on the tenant's do-not-call list.
const DispositionDoNotCall = "do_not_call"
