package campaigns

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// controlStore is what following and controlling a campaign, and its
// scheduler, need.
type controlStore interface {
	FindCampaign(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Campaign, error)
	ListCampaigns(ctx context.Context, tenantID uuid.UUID, afterAt time.Time, afterID uuid.UUID, limit int) ([]*dialq.Campaign, error)
	MoveCampaign(ctx context.Context, tenantID, id uuid.UUID, from []dialq.CampaignStatus, to dialq.CampaignStatus,
		reason string, clearFailures bool) (*dialq.Campaign, error)
	CampaignProgress(ctx context.Context, id uuid.UUID, since time.Time) (p dialq.CampaignProgress, answered, ended, recent int, err error)
	CampaignMetadataKeys(ctx context.Context, id uuid.UUID) ([]string, error)
	ExportCampaign(ctx context.Context, id uuid.UUID, fn func(dialq.ContactExport) error) error
	ClaimCampaign(ctx context.Context, now time.Time, skip []uuid.UUID) (dialq.CampaignPass, error)
	CampaignDialCheck(ctx context.Context, c *dialq.Call) (dialq.CampaignDialCheck, error)
	HoldCampaignCall(ctx context.Context, c *dialq.Call, h dialq.CampaignHold) (bool, error)
}

// Get returns the tenant's campaign id.
// Returns ENOTFOUND if it does not exist or belongs to another tenant.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Campaign, error) {
	return s.store.FindCampaign(ctx, tenantID, id)
}

// Pause stops dialing the tenant's campaign id: no contact of it is
// dialed from now on, by any worker (the check before each dial reads
// the campaign), while calls already ringing or connected go on. Pausing a
// paused campaign changes nothing. Returns ENOTFOUND if it is not the
// tenant's and ECONFLICT if it is over.
func (s *Service) Pause(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Campaign, error) {
	c, err := s.store.FindCampaign(ctx, tenantID, id)
	if err != nil || c.Status == dialq.CampaignPaused {
		return c, err
	}
	return s.store.MoveCampaign(ctx, tenantID, id, []dialq.CampaignStatus{dialq.CampaignScheduled, dialq.CampaignRunning},
		dialq.CampaignPaused, "paused through the API", false)
}

// Resume dials the tenant's paused campaign id again, from where it
// stopped (scheduled again if its start_at is still ahead), and clears an
// auto-pause: its failure count starts anew. Resuming a campaign that is
// dialing changes nothing. Returns ENOTFOUND if it is not the tenant's and
// ECONFLICT if it is over.
func (s *Service) Resume(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Campaign, error) {
	c, err := s.store.FindCampaign(ctx, tenantID, id)
	if err != nil || c.Status.Dialing() {
		return c, err
	}
	to := dialq.CampaignRunning
	if at := c.Settings.StartAt; at != nil && at.After(s.Now()) {
		to = dialq.CampaignScheduled
	}
	return s.store.MoveCampaign(ctx, tenantID, id, []dialq.CampaignStatus{dialq.CampaignPaused}, to, "", true)
}

// Cancel ends the tenant's campaign id: its pending contacts are canceled
// and none is dialed again; calls already ringing or connected go on.
// Canceling a canceled campaign changes nothing. Returns ENOTFOUND if it
// is not the tenant's and ECONFLICT if it completed.
func (s *Service) Cancel(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Campaign, error) {
	c, err := s.store.FindCampaign(ctx, tenantID, id)
	if err != nil || c.Status == dialq.CampaignCanceled {
		return c, err
	}
	return s.store.MoveCampaign(ctx, tenantID, id,
		[]dialq.CampaignStatus{dialq.CampaignScheduled, dialq.CampaignRunning, dialq.CampaignPaused},
		dialq.CampaignCanceled, "canceled through the API", false)
}
