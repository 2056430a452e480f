package campaigns_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/campaigns"
	"github.com/dialq/dialq/internal/dialq"
)

// TestEstimateSchedule: the pace alone without windows; windows in each
// zone's local time, the slots going to the zones that are open, time
// jumping to the next opening; a million contacts cost a few steps.
func TestEstimateSchedule(t *testing.T) {
	monday := time.Date(2030, 1, 7, 0, 0, 0, 0, time.UTC)
	at := func(h, m, s int) time.Time {
		return monday.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}

	e := campaigns.EstimateSchedule(dialq.CampaignSettings{CallsPerSecond: 2}, map[string]int64{"UTC": 10}, at(8, 0, 0))
	require.Equal(t, at(8, 0, 0), *e.FirstDialAt)
	require.Equal(t, at(8, 0, 0).Add(4500*time.Millisecond), *e.LastDialAt, "10 calls at 2 a second: the last 4.5 s after the first")
	require.Equal(t, 4.5, e.DurationSeconds)

	windows := dialq.CampaignSettings{CallsPerSecond: 1,
		Windows: []dialq.CallingWindow{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "09:00", End: "10:00"}}}
	e = campaigns.EstimateSchedule(windows, map[string]int64{"UTC": 4000, "Asia/Kolkata": 10}, at(0, 0, 0))
	require.EqualValues(t, 4010, e.Contacts)
	kolkata, utc := e.Zones[0], e.Zones[1]
	require.Equal(t, "Asia/Kolkata", kolkata.Timezone)
	require.Equal(t, at(3, 30, 0), *kolkata.FirstDialAt, "09:00 in Kolkata is 03:30 UTC")
	require.Equal(t, at(3, 30, 9), *kolkata.LastDialAt)
	require.Equal(t, at(9, 0, 0), *utc.FirstDialAt)
	// 3600 slots on Monday 09:00-10:00 UTC, the other 400 on Tuesday.
	require.Equal(t, at(9, 0, 0).Add(24*time.Hour+399*time.Second), *utc.LastDialAt)
	require.Equal(t, *utc.LastDialAt, *e.LastDialAt)

	// Friday's contacts that do not fit wait for Monday.
	friday := monday.Add(4 * 24 * time.Hour)
	e = campaigns.EstimateSchedule(windows, map[string]int64{"UTC": 3601}, friday)
	require.Equal(t, monday.Add(7*24*time.Hour+9*time.Hour), *e.LastDialAt)

	start := time.Now()
	e = campaigns.EstimateSchedule(windows, map[string]int64{"UTC": 1_000_000, "America/New_York": 1_000_000}, at(0, 0, 0))
	require.Less(t, time.Since(start), time.Second, "the simulation steps by windows, not by contacts")
	require.EqualValues(t, 2_000_000, e.Contacts)
	require.Zero(t, e.NeverDialed)
	require.True(t, e.LastDialAt.After(monday.Add(365*24*time.Hour)), "two million calls at 3600 a weekday take years")
}
