package calls

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// PlaceRequest is one request to place a call.
type PlaceRequest struct {
	TenantID uuid.UUID
	// Request is the call asked for; MetadataBytes the size of its
	// metadata object as sent, in bytes.
	Request       *dialq.OutboundRequest
	MetadataBytes int
	// IdempotencyKey, when set, makes a repeat of the same request return
	// the first call instead of placing another.
	IdempotencyKey *string
	// Wait is how long Place waits for the call to be placed or to fail
	// (dialq.Call.Placed); 0 returns once it is queued.
	Wait time.Duration
	// Campaign, when set, makes this one attempt at a campaign's contact:
	// the call records which, goes to the campaign queue, and takes the
	// idempotency key of the attempt (CampaignAttempt.IdempotencyKey)
	// instead of IdempotencyKey.
	Campaign *CampaignAttempt
}

// CampaignAttempt is the attempt at a campaign's contact a call is.
type CampaignAttempt struct {
	CampaignID uuid.UUID
	Line       int64
	// Attempt counts the contact's attempts from 1.
	Attempt int
	// DialBy is when the contact's calling window closes; zero: never.
	DialBy time.Time
}

// IdempotencyKey is the key of the attempt: a scheduler that dies between
// placing the call and marking its contact places the same attempt again
// and gets the first call back, never a second one.
func (a CampaignAttempt) IdempotencyKey() string {
	return fmt.Sprintf("campaign:%s:%d:%d", a.CampaignID, a.Line, a.Attempt)
}

// Placed is what Place did.
type Placed struct {
	// Call is the call as last read.
	Call *dialq.Call
	// Replayed is true when the request repeated an earlier one with the
	// same idempotency key: Call is that one, and nothing was placed.
	Replayed bool
}

// Done reports whether a request placing c can answer: the call is placed
// (answered; for dialq's SIP bridge, the INVITE is out) or is over without
// an answer (busy, no answer, failed, ...).
func Done(c *dialq.Call) bool { return c.Placed() || c.Failed() }

// Place validates r, stores the call, enqueues its dial task and waits up
// to r.Wait for it to be placed. Returns EINVALID naming each bad field,
// ENOTFOUND if the assistant or trunk is not the tenant's, ECONFLICT if the
// idempotency key was used for another request, and EUNAVAILABLE if the
// queue cannot be reached (the call is then failed, never dialed later).
func (s *Service) Place(ctx context.Context, r PlaceRequest) (Placed, error) {
	req := r.Request
	if err := req.Validate(r.MetadataBytes); err != nil {
		return Placed{}, err
	}
	var key string
	if r.Campaign != nil {
		k := r.Campaign.IdempotencyKey()
		r.IdempotencyKey = &k
	}
	if r.IdempotencyKey != nil {
		key = *r.IdempotencyKey
		if err := dialq.CheckIdempotencyKey(key); err != nil {
			return Placed{}, err
		}
	}
	assistant, err := s.findAssistant(ctx, r.TenantID, uuid.MustParse(req.AssistantID))
	if err != nil {
		return Placed{}, err
	}
	trunk, err := s.findTrunk(ctx, r.TenantID, req.TrunkID)
	if err != nil {
		return Placed{}, err
	}
	call, err := dialq.NewCall(r.TenantID, req, assistant, trunk, s.Now())
	if err != nil {
		return Placed{}, err
	}
	if r.IdempotencyKey != nil {
		call.IdempotencyKey, call.RequestHash = key, req.Fingerprint()
	}
	if a := r.Campaign; a != nil {
		id, line := a.CampaignID, a.Line
		call.CampaignID, call.ContactLine = &id, &line
		if !a.DialBy.IsZero() {
			by := a.DialBy
			call.DialBy = &by
		}
	}

	// Watch before the task can run, so no change is missed.
	w := s.watchFor(call.ID, r.Wait)
	defer w.close()
	stored, err := s.store.CreateCall(ctx, call)
	if err != nil {
		return Placed{}, err
	}
	if stored.ID != call.ID {
		// A repeat of an earlier request: that call, placing none.
		w.close()
		if r.Wait > 0 && !Done(stored) {
			return Placed{Call: s.Wait(ctx, stored, r.Wait, Done), Replayed: true}, nil
		}
		return Placed{Call: stored, Replayed: true}, nil
	}
	if err := s.queue.EnqueueDial(ctx, call); err != nil {
		// Stored but not queued: fail it so it is never dialed later by
		// surprise, and tell the caller it was not placed.
		f := dialq.Failure{Reason: dialq.ReasonInternal, Message: "the call could not be queued: " + dialq.ErrorMessage(err)}
		if _, ferr := s.store.RecordFailed(context.WithoutCancel(ctx), call.ID, f, s.Now()); ferr != nil {
			s.log.Error("record failure of unqueued call", "call_id", call.ID, "err", ferr)
		}
		return Placed{}, err
	}
	s.log.Debug("call queued", "call_id", call.ID, "wait", r.Wait)
	if r.Wait > 0 {
		call = s.await(ctx, w, call, r.Wait, Done)
	}
	return Placed{Call: call}, nil
}
