package calls

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// Report stores the agent's report of the tenant's call id, in place of
// any earlier one, and records it on the call's timeline; any status will
// do, agents report once the call is over. It returns the call as it is
// now. A do_not_call disposition puts the call's number on the tenant's
// do-not-call list, so no campaign calls it again. Returns ENOTFOUND if the call is not the tenant's, EINVALID if r
// breaks a report rule (dialq.Report.Validate).
func (s *Service) Report(ctx context.Context, tenantID, id uuid.UUID, r dialq.Report) (*dialq.Call, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	call, err := s.store.FindCall(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	r.ReportedAt = s.Now().UTC()
	if err := s.store.RecordReport(ctx, id, r); err != nil {
		return nil, err
	}
	if strings.EqualFold(r.Disposition, dialq.DispositionDoNotCall) {
		// After the report: the list is what the agent's report asks for,
		// and a retry of the report adds nothing twice.
		reason := fmt.Sprintf("the agent reported do_not_call on call %s", id)
		if _, err := s.store.Suppress(ctx, tenantID, []string{call.ToNumber}, reason); err != nil {
			return nil, fmt.Errorf("suppress %s after call %s: %w", call.ToNumber, id, err)
		}
	}
	if s.reports != nil {
		// Stored first: a failure here loses the webhook, not the report.
		if _, err := s.reports.Add(ctx, id, dialq.EventCallReport); err != nil {
			s.log.Warn("make the call.report webhooks", "call_id", id, "err", err)
		}
	}
	return s.store.FindCall(ctx, tenantID, id)
}

// ReportTokenTenant returns the tenant of call id if token is that call's
// report token and still valid (until an hour after the call ended): what
// the call's agent may report and hang up with instead of an API key.
// Returns EUNAUTHORIZED otherwise, the same for a call that does not exist,
// a token of another call and an expired one.
func (s *Service) ReportTokenTenant(ctx context.Context, id uuid.UUID, token string) (uuid.UUID, error) {
	refused := dialq.Errorf(dialq.EUNAUTHORIZED, "Invalid or expired report token for call %s.", id)
	if s.cfg.ReportTokens == nil {
		return uuid.Nil, refused
	}
	c, err := s.store.GetCall(ctx, id)
	if err != nil {
		if dialq.ErrorCode(err) == dialq.ENOTFOUND {
			return uuid.Nil, refused
		}
		return uuid.Nil, err
	}
	if !s.cfg.ReportTokens.Valid(c, token, s.Now()) {
		return uuid.Nil, refused
	}
	return c.TenantID, nil
}

// Reports makes the call.report webhooks of a stored report (package
// webhooks' Outbox).
type Reports interface {
	Add(ctx context.Context, callID uuid.UUID, eventType string) (int, error)
}

// UseReports sends a call.report webhook for every report stored.
func (s *Service) UseReports(r Reports) { s.reports = r }
