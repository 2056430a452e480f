package dialq

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNextOpenReadsWindowsInTheCalleesLocalTime(t *testing.T) {
	ny, err := LoadZone("America/New_York")
	require.NoError(t, err)
	s := CampaignSettings{Windows: []CallingWindow{
		{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "17:00"},
		{Days: []string{"sat"}, Start: "10:00", End: "12:00"},
	}}
	at := func(loc *time.Location, v string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", v, loc)
		require.NoError(t, err)
		return tm
	}
	for _, c := range []struct {
		name, now, open, closes string
	}{
		{"inside a window: now", "2026-12-02 10:30", "2026-12-02 10:30", "2026-12-02 17:00"},
		{"before it: its start", "2026-12-02 07:00", "2026-12-02 09:00", "2026-12-02 17:00"},
		{"after it: tomorrow's", "2026-12-02 17:00", "2026-12-03 09:00", "2026-12-03 17:00"},
		{"friday evening: saturday's", "2026-12-04 18:00", "2026-12-05 10:00", "2026-12-05 12:00"},
		{"saturday afternoon: monday's", "2026-12-05 12:30", "2026-12-07 09:00", "2026-12-07 17:00"},
		// Sunday 8 March 2026 the clocks skip 02:00-03:00; the window
		// keeps its local hours: 09:00 EDT on Monday is 13:00 UTC, not 14:00.
		{"across the spring DST change", "2026-03-06 18:00", "2026-03-07 10:00", "2026-03-07 12:00"},
		{"monday after DST", "2026-03-07 12:00", "2026-03-09 09:00", "2026-03-09 17:00"},
		{"across the autumn DST change", "2026-10-31 12:00", "2026-11-02 09:00", "2026-11-02 17:00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			open, closes, ok := s.NextOpen(ny, at(ny, c.now))
			require.True(t, ok)
			require.Equal(t, at(ny, c.open), open, "opens %s", open.In(ny))
			require.Equal(t, at(ny, c.closes), closes)
		})
	}
	open, _, _ := s.NextOpen(ny, at(ny, "2026-03-07 12:00"))
	require.Equal(t, "2026-03-09T13:00:00Z", open.UTC().Format(time.RFC3339), "09:00 EDT")
	open, _, _ = s.NextOpen(ny, at(ny, "2026-10-31 12:00"))
	require.Equal(t, "2026-11-02T14:00:00Z", open.UTC().Format(time.RFC3339), "09:00 EST")

	// The same instant is inside the window in Kolkata, outside in New York.
	kolkata, err := LoadZone("Asia/Kolkata")
	require.NoError(t, err)
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC) // 11:30 in Kolkata, 01:00 in New York
	open, _, _ = s.NextOpen(kolkata, now)
	require.Equal(t, now, open)
	open, _, _ = s.NextOpen(ny, now)
	require.Equal(t, at(ny, "2026-12-02 09:00"), open)

	// A window starting in the hour the clock skips opens right after it.
	early := CampaignSettings{Windows: []CallingWindow{{Start: "02:30", End: "04:00"}}}
	open, _, _ = early.NextOpen(ny, at(ny, "2026-03-08 00:00"))
	require.Equal(t, "2026-03-08T07:00:00Z", open.UTC().Format(time.RFC3339), "03:00 EDT, the first instant after the gap")

	always := CampaignSettings{}
	open, closes, ok := always.NextOpen(ny, now)
	require.True(t, ok)
	require.Equal(t, now, open)
	require.True(t, closes.IsZero())
}

func TestContactTimezone(t *testing.T) {
	require.Equal(t, "Asia/Calcutta", ContactTimezone("+919876543210", "", "UTC"))
	require.Equal(t, "Europe/London", ContactTimezone("+442071838750", "", "UTC"))
	require.Equal(t, "America/New_York", ContactTimezone("+12125550100", "", "UTC"), "New York's area code has one zone")
	require.Equal(t, "Europe/Paris", ContactTimezone("+12125550100", "Europe/Paris", "UTC"), "the contact's own wins")
	require.Equal(t, "America/Chicago", ContactTimezone("+15550100000", "", "America/Chicago"), "555 has several zones: the default")
	_, err := LoadZone("Mars/Olympus")
	require.Error(t, err)
	_, err = LoadZone("Local")
	require.Error(t, err)
}

func TestCampaignSettingsValidateNamesEveryBadField(t *testing.T) {
	nan := 0.0
	s := CampaignSettings{
		DefaultTimezone: "Nowhere/City", MaxConcurrency: -1, CallsPerSecond: 1000,
		Windows:  []CallingWindow{{Days: []string{"monday"}, Start: "9:00", End: "17:00"}, {Start: "18:00", End: "08:00"}},
		CallerID: "+15550100000", CallerIDPool: []string{"+15550100001"}, CallerIDStrategy: "nearest",
		Retry:       RetryPolicy{Busy: RetryRule{MaxRetries: 11}, NoAnswer: RetryRule{DelaySeconds: -1}},
		AutoPause:   AutoPause{FailureRate: 2, WindowSeconds: 5},
		DialOptions: &DialOptions{CallerID: "+15550100000", RingTimeout: &nan},
	}
	var got []string
	s.Validate(ServiceTwilio, "settings.", func(field, format string, args ...any) {
		got = append(got, field+": "+fmt.Sprintf(format, args...))
	})
	fields := make([]string, len(got))
	for i, g := range got {
		fields[i] = g[:len(g)-len(g[indexColon(g):])]
	}
	require.Equal(t, []string{
		"settings.default_timezone", "settings.max_concurrency", "settings.calls_per_second",
		"settings.calling_windows[0].days[0]", "settings.calling_windows[0].start",
		"settings.calling_windows[1].end", "settings.caller_id_pool", "settings.caller_id_strategy",
		"settings.retry.busy.max_retries", "settings.retry.no_answer.delay_seconds",
		"settings.auto_pause.failure_rate", "settings.auto_pause.window_seconds",
		"settings.dial_options.caller_id", "settings.dial_options.ring_timeout",
	}, fields, "%v", got)

	var none []string
	CampaignSettings{}.WithDefaults().Validate(ServiceExotel, "", func(field, _ string, _ ...any) { none = append(none, field) })
	require.Empty(t, none)
}

func indexColon(s string) int {
	for i := range s {
		if s[i] == ':' && i+1 < len(s) && s[i+1] == ' ' {
			return i
		}
	}
	return len(s)
}

func TestRetryPolicyNextAttempt(t *testing.T) {
	ended := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	p := RetryPolicy{Busy: RetryRule{MaxRetries: 2, DelaySeconds: 300}, NoAnswer: RetryRule{MaxRetries: 1, DelaySeconds: 60},
		Failed: RetryRule{MaxRetries: 1}, Machine: RetryRule{MaxRetries: 1, DelaySeconds: 3600}}
	call := func(s CallStatus, r *Report) *Call { return &Call{Status: s, EndedAt: &ended, Report: r} }

	r := p.NextAttempt(call(StatusBusy, nil), 1)
	require.True(t, r.Again)
	require.Equal(t, ended.Add(5*time.Minute), r.After)
	require.Equal(t, "busy: retry 1 of 2", r.Why)
	require.True(t, p.NextAttempt(call(StatusBusy, nil), 2).Again)
	require.False(t, p.NextAttempt(call(StatusBusy, nil), 3).Again, "two retries used")
	require.True(t, p.NextAttempt(call(StatusNoAnswer, nil), 1).Again)
	require.True(t, p.NextAttempt(call(StatusFailed, nil), 1).Again)
	for _, s := range []CallStatus{StatusRejected, StatusUnreachable, StatusCanceled} {
		require.False(t, p.NextAttempt(call(s, nil), 1).Again, s)
	}
	require.False(t, p.NextAttempt(call(StatusCompleted, nil), 1).Again)
	m := p.NextAttempt(call(StatusCompleted, &Report{AnsweredBy: AnsweredByMachine}), 1)
	require.True(t, m.Again)
	require.Equal(t, ended.Add(time.Hour), m.After)
	dnc := p.NextAttempt(call(StatusBusy, &Report{Disposition: "do_not_call"}), 1)
	require.False(t, dnc.Again, "never after do_not_call")
}
