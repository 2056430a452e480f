package campaigns

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// createStore is what creating a campaign and the do-not-call list need.
type createStore interface {
	FindAssistant(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Assistant, error)
	FindTrunk(ctx context.Context, tenantID uuid.UUID, id string) (*dialq.Trunk, error)
	BeginContactUpload(ctx context.Context) (dialq.ContactStaging, error)
	Suppress(ctx context.Context, tenant uuid.UUID, numbers []string, reason string) (int, error)
	IsSuppressed(ctx context.Context, tenant uuid.UUID, number string) (bool, error)
	ListSuppressions(ctx context.Context, tenant uuid.UUID, limit int, afterAt time.Time, afterNumber string) ([]dialq.Suppression, error)
	DeleteSuppression(ctx context.Context, tenant uuid.UUID, number string) error
}

// UploadOptions say what becomes of a validated upload.
type UploadOptions struct {
	// DryRun validates and estimates, and stores nothing.
	DryRun bool
	// SkipInvalid creates the campaign with the valid rows, reporting the
	// others; by default one bad row rejects the upload.
	SkipInvalid bool
}

// Created is what an upload came to.
type Created struct {
	// Campaign is the campaign created; for a dry run, the one that would
	// be (no id, nothing stored); nil when the upload was rejected before
	// its campaign's fields were read.
	Campaign *dialq.Campaign
	DryRun   bool
	// Accepted is whether the campaign was (a dry run: would be) created.
	Accepted bool
	Counts   dialq.UploadCounts
	// Report lists the first dialq.MaxReportRows bad rows by line;
	// ReportTruncated says there are more (Counts has them all).
	Report          []dialq.ContactProblem
	ReportTruncated bool
	// Estimate is a dry run's schedule estimate.
	Estimate *Estimate
}

// Upload is one campaign being created: its fields and its contacts, in
// the order the request body has them, staged in Postgres as they come.
// Finish ends it; Close throws away an upload not finished.
type Upload struct {
	s        *Service
	tenant   uuid.UUID
	opts     UploadOptions
	staging  dialq.ContactStaging
	campaign *dialq.NewCampaign
	// assistant's placeholders without a default: what each row needs.
	required []string
	trunk    *dialq.Trunk
	// contacts is whether contacts were given (an empty list counts);
	// rows how many.
	contacts bool
	rows     int64
	closed   bool
}

// MaxUploadRows bounds the contacts of one campaign.
const MaxUploadRows = 10_000_000

// UploadsInProgress is how many uploads this process is staging now, of
// at most Config.MaxUploads.
func (s *Service) UploadsInProgress() int { return len(s.uploads) }

// BeginUpload starts creating a campaign of tenant. Returns EUNAVAILABLE
// when Config.MaxUploads uploads are in progress in this process already.
func (s *Service) BeginUpload(ctx context.Context, tenant uuid.UUID, opts UploadOptions) (*Upload, error) {
	select {
	case s.uploads <- struct{}{}:
	default:
		return nil, dialq.Errorf(dialq.EUNAVAILABLE, "%d campaign uploads are in progress on this server, the most it takes at once; retry shortly.", cap(s.uploads))
	}
	st, err := s.store.BeginContactUpload(ctx)
	if err != nil {
		<-s.uploads
		return nil, err
	}
	return &Upload{s: s, tenant: tenant, opts: opts, staging: st}, nil
}

// SetOptions sets the upload's options: a body's dry_run and skip_invalid
// are read after the query string's.
func (u *Upload) SetOptions(o UploadOptions) { u.opts = o }

// SetCampaign checks the campaign's own fields (before or after its
// contacts, as they come) and its assistant and trunk. Returns EINVALID
// naming each bad field, ENOTFOUND if the assistant or trunk is not the
// tenant's.
func (u *Upload) SetCampaign(ctx context.Context, n dialq.NewCampaign) error {
	if u.campaign != nil {
		return dialq.InvalidField("campaign", "is given twice")
	}
	if err := n.Validate(); err != nil {
		return err
	}
	a, err := u.s.store.FindAssistant(ctx, u.tenant, uuid.MustParse(n.AssistantID))
	if err != nil {
		return err
	}
	t, err := u.s.store.FindTrunk(ctx, u.tenant, n.TrunkID)
	if err != nil {
		return err
	}
	if string(t.Provider) != n.CallService {
		return dialq.InvalidField("call_service", "is %q but trunk %s is a %s trunk", n.CallService, t.ID, t.Provider)
	}
	if t.Provider == dialq.ServiceTwilio && t.LiveKitTrunkID == "" {
		return dialq.InvalidField("trunk_id", "trunk %s has no LiveKit outbound trunk configured", t.ID)
	}
	set := &n.Settings
	if set.CallerID != "" {
		if set.CallerID, err = callerIDOf(t, set.CallerID, "settings.caller_id"); err != nil {
			return err
		}
	}
	for i, number := range set.CallerIDPool {
		if set.CallerIDPool[i], err = callerIDOf(t, number, fmt.Sprintf("settings.caller_id_pool[%d]", i)); err != nil {
			return err
		}
	}
	u.campaign, u.trunk = &n, t
	u.required = dialq.RequiredPlaceholders(a.Prompt, a.StartInstruction)
	return nil
}

// callerIDOf checks number is one of t's, naming field.
func callerIDOf(t *dialq.Trunk, number, field string) (string, error) {
	got, err := dialq.DialOptions{CallerID: number}.CallerIDFor(t)
	if err != nil {
		fe := dialq.ErrorFields(err)
		if len(fe) == 1 {
			return "", dialq.InvalidField(field, "%s", fe[0].Message)
		}
		return "", err
	}
	return got, nil
}

// add stages one row.
func (u *Upload) add(c dialq.StagedContact) error {
	u.rows++
	if u.rows > MaxUploadRows {
		return dialq.InvalidField("contacts", "has more than %d rows; split it into several campaigns", MaxUploadRows)
	}
	if p := c.Problem; p != nil {
		// The field may be a key as sent (a JSON contact's unknown field).
		p.Field, p.Reason = dialq.ReportText(p.Field), dialq.ReportText(p.Reason)
	}
	return u.staging.Add(c)
}

// stage checks a contact's own fields and stages it: its zone is the one
// it gives or its number's own, or empty for the campaign's default.
func (u *Upload) stage(line int64, number, timezone string, metadata map[string]any, metadataBytes int, encoded func() ([]byte, error)) error {
	p := dialq.CheckContact(line, number, timezone, metadata, metadataBytes)
	c := dialq.StagedContact{Line: line, Problem: p}
	if p == nil {
		md, err := encoded()
		if err != nil {
			return fmt.Errorf("encode metadata of line %d: %w", line, err)
		}
		c.ToNumber, c.Metadata = number, md
		c.Timezone = dialq.ContactTimezone(number, timezone, "")
	}
	return u.add(c)
}

// Finish checks the staged contacts against each other, the do-not-call
// list and the assistant's placeholders, and creates the campaign (status
// scheduled if its start_at is ahead, else running), or, for a dry run,
// estimates its schedule and stores nothing. Returns EINVALID naming the
// campaign's bad fields, or naming contacts when rows are refused (and not
// skip_invalid) or none is valid: Created then has the counts and report.
func (u *Upload) Finish(ctx context.Context) (*Created, error) {
	defer u.Close()
	if u.campaign == nil {
		if err := u.SetCampaign(ctx, dialq.NewCampaign{}); err != nil {
			return nil, err
		}
	}
	if !u.contacts {
		return nil, dialq.InvalidField("contacts", "is required: a JSON array of contacts, or a CSV part")
	}
	counts, err := u.staging.Check(ctx, u.tenant, u.required)
	if err != nil {
		return nil, err
	}
	report, err := u.staging.Problems(ctx, dialq.MaxReportRows)
	if err != nil {
		return nil, err
	}
	now := u.s.Now().UTC()
	n := u.campaign
	c := &dialq.Campaign{TenantID: u.tenant, Name: n.Name, AssistantID: uuid.MustParse(n.AssistantID),
		TrunkID: u.trunk.ID, Service: u.trunk.Provider, Settings: n.Settings.WithDefaults(),
		Status: dialq.CampaignRunning, ContactsTotal: int(counts.Valid), CreatedAt: now, UpdatedAt: now}
	notBefore := now
	if st := c.Settings.StartAt; st != nil && st.After(now) {
		c.Status, notBefore = dialq.CampaignScheduled, *st
	}
	out := &Created{Campaign: c, DryRun: u.opts.DryRun, Counts: counts, Report: report,
		ReportTruncated: counts.Refused() > int64(len(report))}
	var refuse error
	switch {
	case counts.Rows == 0:
		refuse = dialq.InvalidField("contacts", "has no rows")
	case counts.Valid == 0:
		refuse = dialq.InvalidField("contacts", "has no valid row: %d of %d refused; see the report", counts.Refused(), counts.Rows)
	case counts.Refused() > 0 && !u.opts.SkipInvalid:
		refuse = dialq.InvalidField("contacts", "has %d refused rows of %d; fix them, or send skip_invalid=true to create the campaign with the %d valid ones",
			counts.Refused(), counts.Rows, counts.Valid)
	}
	out.Accepted = refuse == nil
	if u.opts.DryRun {
		zones, err := u.staging.Zones(ctx, c.Settings.DefaultTimezone)
		if err != nil {
			return nil, err
		}
		e := EstimateSchedule(c.Settings, zones, notBefore)
		out.Estimate = &e
		return out, nil
	}
	if refuse != nil {
		return out, refuse
	}
	if c.ID, err = uuid.NewV7(); err != nil {
		return nil, err
	}
	if err := u.staging.Commit(ctx, c, notBefore); err != nil {
		return nil, err
	}
	u.s.log.Info("campaign created", "campaign_id", c.ID, "tenant_id", u.tenant, "contacts", counts.Valid,
		"refused", counts.Refused(), "status", c.Status)
	return out, nil
}

// Close throws away an upload not finished (a request that failed half
// way); after Finish it does nothing.
func (u *Upload) Close() {
	if u.closed {
		return
	}
	u.closed = true
	if err := u.staging.Rollback(); err != nil {
		u.s.log.Warn("roll back upload", "err", err)
	}
	<-u.s.uploads
}
