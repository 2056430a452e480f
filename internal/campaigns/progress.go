package campaigns

import (
	"context"
	"encoding/base64"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// Page sizes of a list of campaigns.
const (
	DefaultCampaignPage = 50
	MaxCampaignPage     = 500
)

// CampaignPage is one page of a tenant's campaigns.
type CampaignPage struct {
	Campaigns []*dialq.Campaign
	// Next is the cursor of the next page; empty on the last one.
	Next string
}

// List returns a page of the tenant's campaigns, newest first: limit of
// them (0: DefaultCampaignPage), after the cursor a page before returned.
// Returns EINVALID naming limit or cursor.
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, limit int, cursor string) (CampaignPage, error) {
	var fields []dialq.FieldError
	switch {
	case limit == 0:
		limit = DefaultCampaignPage
	case limit < 1 || limit > MaxCampaignPage:
		fields = append(fields, dialq.FieldError{Field: "limit", Message: "must be 1 to 500"})
	}
	var afterAt time.Time
	var afterID uuid.UUID
	if cursor != "" {
		var ok bool
		if afterAt, afterID, ok = decodeCampaignCursor(cursor); !ok {
			fields = append(fields, dialq.FieldError{Field: "cursor", Message: "is not a cursor this API returned"})
		}
	}
	if len(fields) > 0 {
		return CampaignPage{}, &dialq.Error{Code: dialq.EINVALID, Message: "Invalid request: " + joinFields(fields) + ".", Fields: fields}
	}
	list, err := s.store.ListCampaigns(ctx, tenantID, afterAt, afterID, limit+1)
	if err != nil {
		return CampaignPage{}, err
	}
	page := CampaignPage{Campaigns: list}
	if len(list) > limit {
		page.Campaigns = list[:limit]
		last := page.Campaigns[limit-1]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + last.ID.String()))
	}
	return page, nil
}

func joinFields(fields []dialq.FieldError) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + " " + f.Message
	}
	return strings.Join(parts, "; ")
}

func decodeCampaignCursor(s string) (time.Time, uuid.UUID, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, uuid.Nil, false
	}
	at, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return time.Time{}, uuid.Nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return time.Time{}, uuid.Nil, false
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return time.Time{}, uuid.Nil, false
	}
	return t, u, true
}

// Progress returns the tenant's campaign id with how far it is: contacts
// per status, calls per status, the dial rate over the last minute, the
// answer rate and, while it dials, the time its pending contacts take at
// its pace. Returns ENOTFOUND if it is not the tenant's.
func (s *Service) Progress(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Campaign, dialq.CampaignProgress, error) {
	c, err := s.store.FindCampaign(ctx, tenantID, id)
	if err != nil {
		return nil, dialq.CampaignProgress{}, err
	}
	now := s.Now()
	p, answered, ended, recent, err := s.store.CampaignProgress(ctx, id, now.Add(-time.Minute))
	if err != nil {
		return nil, dialq.CampaignProgress{}, err
	}
	p.DialRate = float64(recent) / 60
	if ended > 0 {
		r := float64(answered) / float64(ended)
		p.AnswerRate = &r
	}
	if pending := p.Contacts[dialq.ContactPending]; pending > 0 && c.Status.Dialing() {
		eta := float64(pending) / c.Settings.WithDefaults().CallsPerSecond
		p.ETASeconds = &eta
	}
	return c, p, nil
}

// Calls returns a page of the calls of the tenant's campaign id, newest
// first, that match f (its CampaignID is set here). Returns ENOTFOUND if
// the campaign is not the tenant's and EINVALID if f breaks a rule.
func (s *Service) Calls(ctx context.Context, tenantID, id uuid.UUID, f dialq.CallFilter) (dialq.CallPage, error) {
	if _, err := s.store.FindCampaign(ctx, tenantID, id); err != nil {
		return dialq.CallPage{}, err
	}
	f.CampaignID = id
	return s.calls.List(ctx, tenantID, f)
}
