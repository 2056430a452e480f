package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/dialq/dialq/internal/dialq"
)

// handleSuppress is POST /suppressions: {"numbers": [...], "reason"?} put
// on the tenant's do-not-call list; numbers already on it are fine.
func (s *Server) handleSuppress(c *gin.Context) {
	svc := s.campaignsOrAnswer(c)
	if svc == nil {
		return
	}
	body, err := readJSONBody(c.Request)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	var req struct {
		Numbers *[]json.RawMessage `json:"numbers"`
		Reason  *string            `json:"reason"`
	}
	if err := decodeStrict(body, &req, "numbers, reason"); err != nil {
		writeError(c, s.log, err)
		return
	}
	var numbers []string
	var fields []dialq.FieldError
	if req.Numbers != nil {
		for i, raw := range *req.Numbers {
			var n string
			if err := json.Unmarshal(raw, &n); err != nil {
				fields = append(fields, dialq.FieldError{Field: fmt.Sprintf("numbers[%d]", i), Message: "must be a string in E.164 format"})
				continue
			}
			numbers = append(numbers, n)
		}
	}
	if len(fields) > 0 {
		writeError(c, s.log, &dialq.Error{Code: dialq.EINVALID, Message: "Invalid request: " + joinFields(fields) + ".", Fields: fields})
		return
	}
	reason := ""
	if req.Reason != nil {
		reason = *req.Reason
	}
	added, err := svc.Suppress(c.Request.Context(), tenantOf(c), numbers, reason)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "data": gin.H{"added": added, "numbers": len(numbers)}})
}

// suppressionList is the body of GET /suppressions. NextCursor is null on
// the last page.
type suppressionList struct {
	Success    bool                `json:"success"`
	Data       []dialq.Suppression `json:"data"`
	NextCursor *string             `json:"next_cursor"`
}

// handleListSuppressions is GET /suppressions?limit=&cursor=: a page of
// the tenant's do-not-call list, newest first.
func (s *Server) handleListSuppressions(c *gin.Context) {
	svc := s.campaignsOrAnswer(c)
	if svc == nil {
		return
	}
	q, err := url.ParseQuery(c.Request.URL.RawQuery)
	if err != nil {
		writeError(c, s.log, dialq.InvalidField("query", "is not a valid query string: %v", err))
		return
	}
	limit := 0
	for name, vs := range q {
		switch {
		case name != "limit" && name != "cursor":
			writeError(c, s.log, dialq.InvalidField(name, "is not a known parameter; allowed: limit, cursor"))
			return
		case len(vs) != 1 || vs[0] == "":
			writeError(c, s.log, dialq.InvalidField(name, "must be given once, not empty"))
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if !limitPattern.MatchString(v) || err != nil || n < 1 {
			writeError(c, s.log, dialq.InvalidField("limit", "must be a whole number from 1 to %d", dialq.MaxSuppressionPage))
			return
		}
		limit = n
	}
	page, err := svc.Suppressions(c.Request.Context(), tenantOf(c), limit, q.Get("cursor"))
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	body := suppressionList{Success: true, Data: page.Numbers}
	if page.Next != "" {
		body.NextCursor = &page.Next
	}
	c.JSON(http.StatusOK, body)
}

// handleUnsuppress is DELETE /suppressions/{number}: the number (E.164,
// its + sent as is or as %2B) taken off the tenant's do-not-call list.
func (s *Server) handleUnsuppress(c *gin.Context) {
	svc := s.campaignsOrAnswer(c)
	if svc == nil {
		return
	}
	number := strings.TrimSpace(c.Param("number"))
	if err := svc.Unsuppress(c.Request.Context(), tenantOf(c), number); err != nil {
		writeError(c, s.log, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"success": true, "message": number + " is no longer on the do-not-call list."})
}
