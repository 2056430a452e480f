package campaigns

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/dialq/dialq/internal/dialq"
)

// Estimate is when a campaign's calls would start, by a dry run: the pace
// (calls_per_second) and each contact's calling windows in its own zone,
// from start_at. It assumes every first attempt is dialed on its slot: no
// retries, and max_concurrency never holds a call back (a campaign whose
// calls last longer than max_concurrency / calls_per_second seconds goes
// slower).
type Estimate struct {
	Contacts    int64      `json:"contacts"`
	FirstDialAt *time.Time `json:"first_dial_at"`
	LastDialAt  *time.Time `json:"last_dial_at"`
	// DurationSeconds is from the first dial to the last.
	DurationSeconds float64 `json:"duration_seconds"`
	// NeverDialed counts contacts whose windows never open in their zone.
	NeverDialed int64          `json:"never_dialed"`
	Zones       []ZoneEstimate `json:"zones"`
	Assumes     string         `json:"assumes"`
}

// ZoneEstimate is the part of an Estimate of one zone's contacts.
type ZoneEstimate struct {
	Timezone    string     `json:"timezone"`
	Contacts    int64      `json:"contacts"`
	FirstDialAt *time.Time `json:"first_dial_at"`
	LastDialAt  *time.Time `json:"last_dial_at"`
}

// estimateAssumes is what Estimate.Assumes says.
const estimateAssumes = "calls start at calls_per_second from start_at, each contact only within its calling " +
	"windows in its own time zone; every contact is dialed once (no retries); max_concurrency is not " +
	"modelled (it slows a campaign whose calls last longer than max_concurrency / calls_per_second seconds)"

// maxEstimateSteps bounds the simulation: each step ends a zone's
// contacts or reaches a window's edge.
const maxEstimateSteps = 1_000_000

// EstimateSchedule simulates the pacing of the contacts counted per zone
// (zone → contacts), from start: the slots come every 1/calls_per_second
// seconds and go to zones whose window is open; when none is, time jumps
// to the next opening. It works on the counts, never on the contacts, so
// a million of them cost what a handful do.
func EstimateSchedule(s dialq.CampaignSettings, zones map[string]int64, start time.Time) Estimate {
	s = s.WithDefaults()
	pace := time.Duration(float64(time.Second) / s.CallsPerSecond)
	type zone struct {
		est       ZoneEstimate
		loc       *time.Location
		remaining int64
	}
	var list []*zone
	e := Estimate{Zones: []ZoneEstimate{}, Assumes: estimateAssumes}
	for _, name := range slices.Sorted(maps.Keys(zones)) {
		loc, err := dialq.LoadZone(name)
		if err != nil {
			loc = time.UTC // a zone stored is valid; UTC rather than nothing
		}
		list = append(list, &zone{est: ZoneEstimate{Timezone: name, Contacts: zones[name]}, loc: loc, remaining: zones[name]})
		e.Contacts += zones[name]
	}
	left := e.Contacts
	t := start
	for step := 0; left > 0 && step < maxEstimateSteps; step++ {
		// Which zones are open at t, and when the set next changes.
		var open []*zone
		var change time.Time // zero: never
		earlier := func(x time.Time) {
			if !x.IsZero() && (change.IsZero() || x.Before(change)) {
				change = x
			}
		}
		for _, z := range list {
			if z.remaining == 0 {
				continue
			}
			opens, closes, ok := s.NextOpen(z.loc, t)
			switch {
			case !ok:
				e.NeverDialed += z.remaining
				left -= z.remaining
				z.remaining = 0
			case opens.After(t):
				earlier(opens)
			default:
				open = append(open, z)
				earlier(closes)
			}
		}
		if len(open) == 0 {
			if change.IsZero() {
				break
			}
			t = change
			continue
		}
		// The slots at t, t+pace, ... before change.
		slots := int64(math.MaxInt64)
		if !change.IsZero() {
			slots = int64((change.Sub(t) + pace - 1) / pace)
		}
		used := int64(0)
		for _, z := range open {
			k := min(z.remaining, slots-used)
			if k == 0 {
				break
			}
			first, last := t.Add(time.Duration(used)*pace).UTC(), t.Add(time.Duration(used+k-1)*pace).UTC()
			if z.est.FirstDialAt == nil {
				z.est.FirstDialAt = &first
			}
			z.est.LastDialAt = &last
			used += k
			z.remaining -= k
			left -= k
		}
		t = t.Add(time.Duration(used) * pace)
		if !change.IsZero() && t.Before(change) && used == slots {
			t = change
		}
	}
	for _, z := range list {
		e.Zones = append(e.Zones, z.est)
		if f := z.est.FirstDialAt; f != nil && (e.FirstDialAt == nil || f.Before(*e.FirstDialAt)) {
			e.FirstDialAt = f
		}
		if l := z.est.LastDialAt; l != nil && (e.LastDialAt == nil || l.After(*e.LastDialAt)) {
			e.LastDialAt = l
		}
	}
	if e.FirstDialAt != nil {
		e.DurationSeconds = e.LastDialAt.Sub(*e.FirstDialAt).Seconds()
	}
	return e
}
