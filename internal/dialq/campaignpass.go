package dialq

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// CampaignPass is one scheduler pass over one campaign it claimed: the
// campaign's row stays locked (FOR UPDATE) until Commit or Rollback, so no
// other worker paces, places or completes it meanwhile, and every change
// below commits together. The calls it places are stored apart (the calls
// service), each with the idempotency key of its attempt: a pass rolled
// back after placing one places the same attempt again and gets that call.
type CampaignPass interface {
	// Campaign is the claimed campaign as it was read.
	Campaign() *Campaign
	// Ended returns up to limit of its calling contacts whose call is over.
	Ended(ctx context.Context, limit int) ([]ContactCall, error)
	// Calling counts its contacts with a call live.
	Calling(ctx context.Context) (int, error)
	// Due returns up to limit of its pending contacts due at now, those
	// not dialed longest first.
	Due(ctx context.Context, now time.Time, limit int) ([]Contact, error)
	// Suppressed returns which of numbers are on the tenant's do-not-call
	// list.
	Suppressed(ctx context.Context, numbers []string) (map[string]bool, error)
	// Suppress puts number on the tenant's do-not-call list (an agent's
	// do_not_call disposition).
	Suppress(ctx context.Context, number, reason string) error
	// Move puts contact line in status with reason; with ContactPending,
	// due at notBefore.
	Move(ctx context.Context, line int64, status ContactStatus, outcome CallStatus, reason string, notBefore time.Time) error
	// MarkCalling records that call callID is the contact's attempt-th.
	MarkCalling(ctx context.Context, line int64, callID uuid.UUID, attempt int) error
	// SavePace stores the pacing state and the caller ID pool's turn.
	SavePace(ctx context.Context, pacedAt time.Time, credit float64, callerIDNext int64) error
	// Failures counts its calls that ended since since (the auto-pause).
	Failures(ctx context.Context, since time.Time) (FailureShare, error)
	// Left reports whether any of its contacts is pending or calling.
	Left(ctx context.Context) (pending, calling bool, err error)
	// SetStatus moves the campaign to status, with reason; a campaign over
	// (completed) ends at now.
	SetStatus(ctx context.Context, status CampaignStatus, reason string, now time.Time) error
	// Commit ends the pass, keeping its changes; Rollback drops them.
	// Rollback after Commit does nothing.
	Commit() error
	Rollback() error
}

// CampaignHold is why a campaign's call is not dialed after all, found
// right before its dial: its campaign paused or canceled, its number on the
// do-not-call list, its calling window closed. The call ends canceled with
// Reason; its contact moves as Contact says, its attempt not counted when
// it goes back to pending.
type CampaignHold struct {
	Reason string
	// Contact is where the contact goes: pending (paused: due at once;
	// window closed: NotBefore, the next opening), canceled or suppressed.
	Contact   ContactStatus
	NotBefore time.Time
}

// CampaignDialCheck is what the check before a campaign call's dial reads.
type CampaignDialCheck struct {
	Campaign   *Campaign
	Suppressed bool
	// Timezone is the contact's zone; Calling whether the contact is still
	// calling this very call.
	Timezone string
	Calling  bool
}

// ContactExport is one contact of a campaign's export, with what its last
// call said.
type ContactExport struct {
	Contact Contact
	// The last call's SIP status code, how long it was connected (nil if
	// never), and its agent's report.
	SIPStatusCode int
	Duration      *time.Duration
	AnsweredBy    string
	Disposition   string
	Summary       string
}
