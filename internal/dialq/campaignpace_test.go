package dialq

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPace(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := t0.Add(-d); return &x }
	for _, tc := range []struct {
		name   string
		cps    float64
		paced  *time.Time
		credit float64
		room   int
		calls  int
		carry  float64
	}{
		{"never paced: a second's worth at once", 5, nil, 0, 100, 5, 0},
		{"never paced, below 1 cps: one call", 0.2, nil, 0, 100, 1, 0},
		{"a quarter second at 2 cps owes half a call", 2, at(250 * time.Millisecond), 0, 100, 0, 0.5},
		{"the carried half makes a call", 2, at(250 * time.Millisecond), 0.5, 100, 1, 0},
		{"a long wait bursts one second at most", 3, at(time.Hour), 0, 100, 3, 0},
		{"the cap holds the calls, the credit carries", 4, at(time.Second), 0, 1, 1, 3},
		{"no room, nothing placed", 4, at(time.Second), 0, 0, 0, 4},
		{"negative room (over the cap) places nothing", 4, at(time.Second), 0, -2, 0, 4},
		{"0.5 cps over a second", 0.5, at(time.Second), 0.5, 100, 1, 0},
	} {
		calls, carry := CampaignSettings{CallsPerSecond: tc.cps}.Pace(tc.paced, tc.credit, t0, tc.room)
		require.Equal(t, tc.calls, calls, tc.name)
		require.InDelta(t, tc.carry, carry, 1e-9, tc.name)
	}
}

func TestCampaignCallerID(t *testing.T) {
	t.Parallel()
	one := CampaignSettings{CallerID: "+15550100000"}
	id, next := one.CallerIDFor("+15551234567", 7)
	require.Equal(t, "+15550100000", id)
	require.Equal(t, int64(7), next)

	pool := CampaignSettings{CallerIDPool: []string{"+15550100001", "+15550100002", "+442071230000"}}.WithDefaults()
	var got []string
	turn := int64(0)
	for range 4 {
		var id string
		id, turn = pool.CallerIDFor("+15551234567", turn)
		got = append(got, id)
	}
	require.Equal(t, []string{"+15550100001", "+15550100002", "+442071230000", "+15550100001"}, got)

	local := pool
	local.CallerIDStrategy = CallerIDLocal
	id, _ = local.CallerIDFor("+442079460000", 5)
	require.Equal(t, "+442071230000", id, "the UK number for a UK callee")
	a, next := local.CallerIDFor("+15551234567", 0)
	b, _ := local.CallerIDFor("+15551234567", next)
	require.ElementsMatch(t, []string{"+15550100001", "+15550100002"}, []string{a, b}, "round robin among the equally local")
}

func TestAutoPauses(t *testing.T) {
	t.Parallel()
	a := AutoPause{FailureRate: 0.5, WindowSeconds: 120, MinCalls: 10}
	pause, _ := a.AutoPauses(FailureShare{Ended: 9, Failed: 9})
	require.False(t, pause, "fewer than min_calls ended")
	pause, _ = a.AutoPauses(FailureShare{Ended: 10, Failed: 4})
	require.False(t, pause)
	pause, why := a.AutoPauses(FailureShare{Ended: 10, Failed: 5})
	require.True(t, pause)
	require.Equal(t, "auto-paused: 5 of 10 calls failed (status failed or unreachable) in the last 2m0s, at or above the failure_rate 0.5", why)
	a.Disabled = true
	pause, _ = a.AutoPauses(FailureShare{Ended: 100, Failed: 100})
	require.False(t, pause)
}
