package httpapi

import (
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/campaigns"
	"github.com/dialq/dialq/internal/dialq"
)

// campaignView is a campaign as the API shows it (data of POST /campaigns;
// the progress endpoints add to it). ID is absent in a dry run's preview.
type campaignView struct {
	ID            *uuid.UUID             `json:"id,omitempty"`
	Name          string                 `json:"name"`
	AssistantID   uuid.UUID              `json:"assistant_id"`
	TrunkID       string                 `json:"trunk_id"`
	CallService   dialq.CallService      `json:"call_service"`
	Status        dialq.CampaignStatus   `json:"status"`
	StatusReason  string                 `json:"status_reason,omitempty"`
	Settings      dialq.CampaignSettings `json:"settings"`
	ContactsTotal int                    `json:"contacts_total"`
	CreatedAt     time.Time              `json:"created_at"`
	UpdatedAt     time.Time              `json:"updated_at"`
	EndedAt       *time.Time             `json:"ended_at,omitempty"`
	// Progress is set by GET /campaigns/{id} only: the list and the
	// controls answer without counting.
	Progress *dialq.CampaignProgress `json:"progress,omitempty"`
}

func campaignViewOf(c *dialq.Campaign) campaignView {
	v := campaignView{Name: c.Name, AssistantID: c.AssistantID, TrunkID: c.TrunkID, CallService: c.Service,
		Status: c.Status, StatusReason: c.StatusReason, Settings: c.Settings, ContactsTotal: c.ContactsTotal,
		CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, EndedAt: c.EndedAt}
	if c.ID != uuid.Nil {
		id := c.ID
		v.ID = &id
	}
	return v
}

// uploadView is the validation report of an upload: every row counted,
// the first dialq.MaxReportRows bad ones listed by line.
type uploadView struct {
	Counts          dialq.UploadCounts     `json:"counts"`
	Report          []dialq.ContactProblem `json:"report"`
	ReportTruncated bool                   `json:"report_truncated"`
}

func uploadViewOf(c *campaigns.Created) uploadView {
	return uploadView{Counts: c.Counts, Report: nonNil(c.Report), ReportTruncated: c.ReportTruncated}
}

// createdView is the data of a created campaign: the campaign, and what
// its upload skipped.
type createdView struct {
	campaignView
	Upload uploadView `json:"upload"`
}

// dryRunView is the data of a dry run: what would be created, nothing
// stored.
type dryRunView struct {
	DryRun bool `json:"dry_run"`
	// Accepted is whether the upload, sent without dry_run, would create
	// the campaign.
	Accepted bool                `json:"accepted"`
	Campaign campaignView        `json:"campaign"`
	Upload   uploadView          `json:"upload"`
	Estimate *campaigns.Estimate `json:"estimate"`
}

// rejectedView is the data of an upload refused for its rows.
type rejectedView struct {
	Upload uploadView `json:"upload"`
}
