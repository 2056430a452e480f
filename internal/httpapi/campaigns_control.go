package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/campaigns"
	"github.com/dialq/dialq/internal/dialq"
)

// campaignControlRoutes serves the campaigns' progress and control.
func (s *Server) campaignControlRoutes(api *gin.RouterGroup) {
	api.GET("/campaigns", s.handleListCampaigns)
	api.GET("/campaigns/:id", s.handleGetCampaign)
	api.GET("/campaigns/:id/calls", s.handleCampaignCalls)
	api.GET("/campaigns/:id/export", s.handleExportCampaign)
	api.POST("/campaigns/:id/pause", s.controlCampaign((*campaigns.Service).Pause, "Campaign paused."))
	api.POST("/campaigns/:id/resume", s.controlCampaign((*campaigns.Service).Resume, "Campaign resumed."))
	api.POST("/campaigns/:id/cancel", s.controlCampaign((*campaigns.Service).Cancel, "Campaign canceled."))
}

// campaignsService is the campaigns service, or EUNAVAILABLE when this API
// runs without one.
func (s *Server) campaignsService() (*campaigns.Service, error) {
	if s.cfg.Campaigns == nil {
		return nil, dialq.Errorf(dialq.EUNAVAILABLE, "Campaigns are not configured on this server.")
	}
	return s.cfg.Campaigns, nil
}

// campaignIDParam reads the {id} of a /campaigns/{id} path. Returns
// EINVALID naming campaign_id.
func campaignIDParam(c *gin.Context) (uuid.UUID, error) {
	id, err := dialq.ParseUUID(c.Param("id"))
	if err != nil {
		return uuid.Nil, dialq.InvalidField("campaign_id", "must be a UUID")
	}
	return id, nil
}

// campaignList is the body of GET /campaigns. NextCursor is null on the
// last page.
type campaignList struct {
	Success    bool           `json:"success"`
	Data       []campaignView `json:"data"`
	NextCursor *string        `json:"next_cursor"`
}

// campaignListParams are the query parameters of GET /campaigns.
var campaignListParams = []string{"limit", "cursor"}

// handleListCampaigns is GET /campaigns: a page of the tenant's campaigns,
// newest first, without their progress.
func (s *Server) handleListCampaigns(c *gin.Context) {
	svc := s.campaignsOrAnswer(c)
	if svc == nil {
		return
	}
	limit, cursor, err := decodeCampaignList(c.Request.URL.RawQuery)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	page, err := svc.List(c.Request.Context(), tenantOf(c), limit, cursor)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	body := campaignList{Success: true, Data: make([]campaignView, len(page.Campaigns))}
	for i, cp := range page.Campaigns {
		body.Data[i] = campaignViewOf(cp)
	}
	if page.Next != "" {
		body.NextCursor = &page.Next
	}
	c.JSON(http.StatusOK, body)
}

// decodeCampaignList reads the query of GET /campaigns, refusing what it
// does not know as GET /calls does. Returns EINVALID naming each bad
// parameter.
func decodeCampaignList(rawQuery string) (int, string, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return 0, "", dialq.InvalidField("query", "is not a valid query string: %v", err)
	}
	var fields []dialq.FieldError
	bad := func(name, format string, args ...any) {
		fields = append(fields, dialq.FieldError{Field: name, Message: fmt.Sprintf(format, args...)})
	}
	limit, cursor := 0, ""
	for _, name := range campaignListParams {
		vs, ok := q[name]
		switch {
		case !ok:
			continue
		case len(vs) > 1:
			bad(name, "is given %d times; give it once", len(vs))
			continue
		case vs[0] == "":
			bad(name, "is empty; leave it out for the first page")
			continue
		}
		if name == "cursor" {
			cursor = vs[0]
			continue
		}
		n, err := strconv.Atoi(vs[0])
		if !limitPattern.MatchString(vs[0]) || err != nil || n < 1 || n > campaigns.MaxCampaignPage {
			bad(name, "must be a whole number from 1 to %d", campaigns.MaxCampaignPage)
			continue
		}
		limit = n
	}
	var unknown []string
	for name := range q {
		if !slices.Contains(campaignListParams, name) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		bad(name, "is not a known parameter; allowed: %s", strings.Join(campaignListParams, ", "))
	}
	if len(fields) > 0 {
		return 0, "", &dialq.Error{Code: dialq.EINVALID, Message: "Invalid request: " + joinFields(fields) + ".", Fields: fields}
	}
	return limit, cursor, nil
}

// handleGetCampaign is GET /campaigns/{id}: the campaign with its progress.
func (s *Server) handleGetCampaign(c *gin.Context) {
	svc, id, err := s.campaignRequest(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	cp, p, err := svc.Progress(c.Request.Context(), tenantOf(c), id)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	v := campaignViewOf(cp)
	v.Progress = &p
	c.JSON(http.StatusOK, gin.H{"success": true, "data": v})
}

// handleCampaignCalls is GET /campaigns/{id}/calls: its calls as GET
// /calls lists them, with the same query parameters.
func (s *Server) handleCampaignCalls(c *gin.Context) {
	svc, id, err := s.campaignRequest(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	f, err := decodeCallFilter(c.Request.URL.RawQuery)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	page, err := svc.Calls(c.Request.Context(), tenantOf(c), id, f)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	body := callList{Success: true, Data: make([]callView, len(page.Calls))}
	for i, call := range page.Calls {
		body.Data[i] = viewOf(call)
	}
	if page.Next != "" {
		body.NextCursor = &page.Next
	}
	c.JSON(http.StatusOK, body)
}

// handleExportCampaign is GET /campaigns/{id}/export: every contact as CSV,
// streamed. An error once the first row is out can only cut the body short
// (and is logged): the status is sent by then.
func (s *Server) handleExportCampaign(c *gin.Context) {
	svc, id, err := s.campaignRequest(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	began := false
	err = svc.Export(c.Request.Context(), tenantOf(c), id, c.Writer, func(cp *dialq.Campaign) {
		began = true
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="campaign-`+cp.ID.String()+`.csv"`)
		c.Status(http.StatusOK)
	})
	switch {
	case err == nil:
	case !began:
		writeError(c, s.log, err)
	default:
		s.log.Error("campaign export cut short", "campaign_id", id, "err", err)
	}
}

// controlCampaign is POST /campaigns/{id}/pause, /resume and /cancel: the
// campaign as the move left it.
func (s *Server) controlCampaign(move func(*campaigns.Service, context.Context, uuid.UUID, uuid.UUID) (*dialq.Campaign, error), message string) gin.HandlerFunc {
	return func(c *gin.Context) {
		svc, id, err := s.campaignRequest(c)
		if err != nil {
			writeError(c, s.log, err)
			return
		}
		cp, err := move(svc, c.Request.Context(), tenantOf(c), id)
		if err != nil {
			writeError(c, s.log, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"success": true, "message": message, "data": campaignViewOf(cp)})
	}
}

func (s *Server) campaignRequest(c *gin.Context) (*campaigns.Service, uuid.UUID, error) {
	svc, err := s.campaignsService()
	if err != nil {
		return nil, uuid.Nil, err
	}
	id, err := campaignIDParam(c)
	return svc, id, err
}
