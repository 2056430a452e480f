package dialq

import (
	"fmt"
	"math"
	"time"
)

// Pace is how many calls a campaign may start now: CallsPerSecond for
// every second since pacedAt, plus the fraction of a call carried from
// then (credit), at most about one second's worth (a campaign that waited,
// paused or at its concurrency cap does not burst), and never more than
// room (its free concurrency). It returns the calls to start and the
// credit to carry once they are. A campaign never paced (pacedAt nil)
// starts with the full second's worth.
func (s CampaignSettings) Pace(pacedAt *time.Time, credit float64, now time.Time, room int) (calls int, carry float64) {
	cps := s.WithDefaults().CallsPerSecond
	if pacedAt == nil {
		credit = math.Inf(1)
	} else if el := now.Sub(*pacedAt).Seconds(); el > 0 {
		credit += cps * el
	}
	// A burst of at most one second's calls, and at least one call's
	// credit, so a pace below 1 cps still gets its call out.
	credit = min(credit, math.Max(cps, 1))
	n := int(math.Floor(credit + 1e-9))
	n = max(min(n, room), 0)
	return n, credit - float64(n)
}

// CallerIDFor returns the caller ID of a campaign's next call to callee:
// settings' CallerID, or a number of the pool taken by CallerIDStrategy
// with turn (the pool's round robin), and the turn after it. Empty: the
// trunk's own.
func (s CampaignSettings) CallerIDFor(callee string, turn int64) (string, int64) {
	if len(s.CallerIDPool) == 0 {
		return s.CallerID, turn
	}
	pool := s.CallerIDPool
	if s.CallerIDStrategy == CallerIDLocal {
		// The numbers sharing the longest leading digits with the callee:
		// its country, then its area code.
		best, longest := []string(nil), -1
		for _, n := range pool {
			l := commonPrefix(n, callee)
			switch {
			case l > longest:
				best, longest = []string{n}, l
			case l == longest:
				best = append(best, n)
			}
		}
		pool = best
	}
	i := int(turn % int64(len(pool)))
	if i < 0 {
		i += len(pool)
	}
	return pool[i], turn + 1
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// CampaignProgress is how far a campaign is.
type CampaignProgress struct {
	// Contacts counts its contacts per status.
	Contacts map[ContactStatus]int `json:"contacts"`
	// Outcomes counts its calls per call status.
	Outcomes map[CallStatus]int `json:"outcomes"`
	// Calls is how many calls it has placed, retries included.
	Calls int `json:"calls"`
	// DialRate is the calls per second it started over the last minute.
	DialRate float64 `json:"dial_rate"`
	// AnswerRate is the share of its ended calls that were answered; nil
	// before any ended.
	AnswerRate *float64 `json:"answer_rate"`
	// ETASeconds is how long its pending contacts take at its pace, one
	// call each; nil once none is pending or while it is not dialing.
	ETASeconds *float64 `json:"eta_seconds"`
}

// ContactCall is a contact whose call ended, with that call: the outcome
// the scheduler applies (RetryPolicy.NextAttempt).
type ContactCall struct {
	Contact Contact
	Call    *Call
}

// FailureShare is what the auto-pause counts: of the campaign's calls that
// ended in its window, how many, and how many failed (status failed or
// unreachable).
type FailureShare struct {
	Ended, Failed int
}

// AutoPauses reports whether a campaign seeing f pauses itself, and says
// what it saw.
func (a AutoPause) AutoPauses(f FailureShare) (bool, string) {
	if a.Disabled || f.Ended == 0 || f.Ended < a.MinCalls {
		return false, ""
	}
	share := float64(f.Failed) / float64(f.Ended)
	if share < a.FailureRate {
		return false, ""
	}
	return true, fmtAutoPause(f, a)
}

func fmtAutoPause(f FailureShare, a AutoPause) string {
	return fmt.Sprintf("auto-paused: %d of %d calls failed (status failed or unreachable) in the last %s, at or above the failure_rate %g",
		f.Failed, f.Ended, secondsDuration(a.WindowSeconds), a.FailureRate)
}
