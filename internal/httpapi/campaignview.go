package httpapi

import (
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// campaignView is a campaign as the campaign routes answer it, in the
// envelope of GET /call/{id} ({"success": true, "data": ...}).
type campaignView struct {
	ID          uuid.UUID              `json:"id"`
	Name        string                 `json:"name"`
	AssistantID uuid.UUID              `json:"assistant_id"`
	TrunkID     string                 `json:"trunk_id"`
	CallService dialq.CallService      `json:"call_service"`
	Settings    dialq.CampaignSettings `json:"settings"`
	Status      dialq.CampaignStatus   `json:"status"`
	// StatusReason says why it is paused or canceled.
	StatusReason  string     `json:"status_reason,omitempty"`
	ContactsTotal int        `json:"contacts_total"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	EndedAt       *time.Time `json:"ended_at,omitempty"`
	// Progress is set by GET /campaigns/{id} only: the list and the
	// controls answer without counting.
	Progress *dialq.CampaignProgress `json:"progress,omitempty"`
}

func campaignViewOf(c *dialq.Campaign) campaignView {
	return campaignView{ID: c.ID, Name: c.Name, AssistantID: c.AssistantID, TrunkID: c.TrunkID, CallService: c.Service,
		Settings: c.Settings, Status: c.Status, StatusReason: c.StatusReason, ContactsTotal: c.ContactsTotal,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, EndedAt: c.EndedAt}
}
