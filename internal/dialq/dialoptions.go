package dialq

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// DialOptions are the optional per-call dial settings of POST
// /call/outbound, as the request gave them. A field left out takes the
// default of the deployment or the trunk; the call keeps what was asked, so
// GET shows it and a retry of the dial task dials the same way.
type DialOptions struct {
	// RingTimeout is how long the phone may ring, in seconds (default
	// DIALQ_RING_TIMEOUT). Both paths.
	RingTimeout *float64 `json:"ring_timeout,omitempty"`
	// MaxDuration is how long the call may last once answered, in seconds
	// (default DIALQ_MAX_CALL_DURATION); then dialq hangs up. Both paths.
	MaxDuration *float64 `json:"max_duration,omitempty"`
	// CallerID is the number the callee sees: one of the trunk's numbers
	// (default the trunk's first). Both paths.
	CallerID string `json:"caller_id,omitempty"`
	// DisplayName is the caller's name in the From header. Both paths;
	// the carrier may replace it.
	DisplayName *string `json:"display_name,omitempty"`
	// SIPHeaders are extra X- headers on the INVITE. Both paths.
	SIPHeaders map[string]string `json:"sip_headers,omitempty"`
	// DTMF is sent to the phone once it answers: digits 0-9 * # A-D, and
	// w for a half-second pause. Both paths.
	DTMF string `json:"dtmf,omitempty"`
	// PlayRingtone plays a ringback tone into the room while the phone
	// rings, for the agent. Both paths.
	PlayRingtone *bool `json:"play_ringtone,omitempty"`
	// Krisp turns on LiveKit's noise cancellation of the phone's audio.
	// LiveKit SIP trunks (twilio) only.
	Krisp *bool `json:"krisp,omitempty"`
	// WaitUntil is what a synchronous request waits for: "placed" (the
	// default: the answer through a LiveKit trunk, the INVITE sent through
	// the Exotel bridge) or "answered" (the answer, or the final failure,
	// on both paths).
	WaitUntil WaitUntil `json:"wait_until,omitempty"`
}

// WaitUntil is how far POST /call/outbound waits for a call.
type WaitUntil string

// The values of wait_until.
const (
	WaitPlaced   WaitUntil = "placed"
	WaitAnswered WaitUntil = "answered"
)

// Bounds of the dial options.
const (
	MinRingTimeout    = 5 * time.Second
	MaxRingTimeout    = 120 * time.Second
	MinMaxDuration    = 10 * time.Second
	MaxMaxDuration    = 24 * time.Hour
	MaxDisplayName    = 64 // characters
	MaxSIPHeaders     = 20
	MaxSIPHeaderName  = 64 // bytes, X- included
	MaxSIPHeaderValue = 512
	MaxDTMF           = 64
)

var (
	sipHeaderName = regexp.MustCompile(`^[Xx]-[A-Za-z0-9][A-Za-z0-9-]*$`)
	dtmfPattern   = regexp.MustCompile(`^[0-9*#A-Dw]+$`)
)

// validate adds a FieldError to fields for each bad option of a call
// through service (which is valid or empty).
func (o *DialOptions) validate(service CallService, bad func(field, format string, args ...any)) {
	seconds := func(field string, v *float64, lo, hi time.Duration) {
		if v == nil {
			return
		}
		if math.IsNaN(*v) || *v < lo.Seconds() || *v > hi.Seconds() {
			bad(field, "must be a number of seconds from %g to %g", lo.Seconds(), hi.Seconds())
		}
	}
	seconds("ring_timeout", o.RingTimeout, MinRingTimeout, MaxRingTimeout)
	seconds("max_duration", o.MaxDuration, MinMaxDuration, MaxMaxDuration)
	if o.CallerID != "" && strings.TrimSpace(o.CallerID) != o.CallerID {
		bad("caller_id", "must not have spaces around it")
	}
	if o.DisplayName != nil {
		switch n := *o.DisplayName; {
		case n == "" || strings.TrimSpace(n) != n:
			bad("display_name", "must be 1 to %d characters without spaces around them", MaxDisplayName)
		case len([]rune(n)) > MaxDisplayName:
			bad("display_name", "is %d characters; at most %d are allowed", len([]rune(n)), MaxDisplayName)
		case strings.ContainsAny(n, "\"\\") || hasControl(n):
			bad("display_name", "must not contain quotes, backslashes or control characters")
		}
	}
	if len(o.SIPHeaders) > MaxSIPHeaders {
		bad("sip_headers", "has %d headers; at most %d are allowed", len(o.SIPHeaders), MaxSIPHeaders)
	}
	seen := map[string]string{}
	for _, name := range sortedKeys(o.SIPHeaders) {
		field := "sip_headers." + name
		if len(name) > MaxSIPHeaderName || !sipHeaderName.MatchString(name) {
			bad(field, "is not allowed: only X- headers, named with letters, digits and -, at most %d bytes", MaxSIPHeaderName)
			continue
		}
		if strings.HasPrefix(strings.ToLower(name), "x-dialq-") {
			bad(field, "is dialq's own: X-Dialq- headers carry the call's id to the carrier and cannot be set")
			continue
		}
		if first, dup := seen[strings.ToLower(name)]; dup {
			bad(field, "names the same header as sip_headers.%s (header names ignore case)", first)
			continue
		}
		seen[strings.ToLower(name)] = name
		v := o.SIPHeaders[name]
		if len(v) > MaxSIPHeaderValue || hasControl(v) || !isASCII(v) {
			bad(field, "must be printable ASCII of at most %d bytes", MaxSIPHeaderValue)
		}
	}
	if o.DTMF != "" && (len(o.DTMF) > MaxDTMF || !dtmfPattern.MatchString(o.DTMF)) {
		bad("dtmf", "must be 1 to %d of the digits 0-9 * # A-D, and w for a half-second pause", MaxDTMF)
	}
	if o.Krisp != nil && *o.Krisp && service == ServiceExotel {
		bad("krisp", "is only for twilio calls: LiveKit's SIP service applies it, and exotel calls go through dialq's SIP bridge, which has no noise cancellation")
	}
	switch o.WaitUntil {
	case "", WaitPlaced, WaitAnswered:
	default:
		bad("wait_until", "must be one of: placed, answered")
	}
}

// Ring is the call's ring time: RingTimeout, or def when it has none.
func (o DialOptions) Ring(def time.Duration) time.Duration {
	if o.RingTimeout == nil {
		return def
	}
	return secondsDuration(*o.RingTimeout)
}

// MaxCall is how long the call may last once answered: MaxDuration, or def
// when it has none.
func (o DialOptions) MaxCall(def time.Duration) time.Duration {
	if o.MaxDuration == nil {
		return def
	}
	return secondsDuration(*o.MaxDuration)
}

// Ringtone reports whether a ringback tone is played into the room.
func (o DialOptions) Ringtone() bool { return o.PlayRingtone != nil && *o.PlayRingtone }

// KrispEnabled reports whether LiveKit's noise cancellation is asked for.
func (o DialOptions) KrispEnabled() bool { return o.Krisp != nil && *o.Krisp }

// Name is the From display name, "" for none.
func (o DialOptions) Name() string {
	if o.DisplayName == nil {
		return ""
	}
	return *o.DisplayName
}

// IsZero reports whether no option was given.
func (o DialOptions) IsZero() bool {
	return o.RingTimeout == nil && o.MaxDuration == nil && o.CallerID == "" && o.DisplayName == nil &&
		len(o.SIPHeaders) == 0 && o.DTMF == "" && o.PlayRingtone == nil && o.Krisp == nil && o.WaitUntil == ""
}

// CallerIDFor checks o's caller ID against trunk t's numbers and returns it
// in the form the trunk's numbers are kept in. Returns EINVALID naming
// caller_id when it is not one of them.
func (o DialOptions) CallerIDFor(t *Trunk) (string, error) {
	if o.CallerID == "" {
		return "", nil
	}
	want := o.CallerID
	if p, ok := SIPProfileFor(t.Provider); ok {
		norm, ok := p.CallerID(want)
		if !ok {
			return "", InvalidField("caller_id", "%s", p.CallerIDRule)
		}
		want = norm
	} else if msg := checkE164(want); msg != "" {
		return "", InvalidField("caller_id", "%s", msg)
	}
	if len(t.Numbers) == 0 {
		return "", InvalidField("caller_id",
			"cannot be checked: trunk %s has no numbers on record (dialqctl save-trunk -numbers)", t.ID)
	}
	if !slices.Contains(t.Numbers, want) {
		return "", InvalidField("caller_id", "must be one of trunk %s's numbers: %s", t.ID, strings.Join(t.Numbers, ", "))
	}
	return want, nil
}

// DialTaskTimeout is how long a call's dial task may run: base (the
// deployment's DIALQ_DIAL_TIMEOUT) unless the call's own ring time and
// agent wait need more, with the margin a dial needs beyond its ring.
func DialTaskTimeout(c *Call, base time.Duration) time.Duration {
	if c.Options.RingTimeout == nil {
		return base
	}
	need := c.AgentJoinTimeout + c.Options.Ring(0) + 30*time.Second + DialMargin
	return max(base, need)
}

func secondsDuration(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > 0x7e {
			return false
		}
	}
	return true
}
