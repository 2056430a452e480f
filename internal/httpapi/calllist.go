package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/dialq/dialq/internal/dialq"
)

// listParams are the query parameters of GET /calls, in the order their
// errors are reported.
var listParams = []string{"status", "to_number", "assistant_id", "created_from", "created_to", "limit", "cursor"}

// limitPattern is a plain whole number; strconv.Atoi alone also takes a
// sign.
var limitPattern = regexp.MustCompile(`^[0-9]{1,9}$`)

// callList is the body of GET /calls. NextCursor is null on the last page.
type callList struct {
	Success    bool       `json:"success"`
	Data       []callView `json:"data"`
	NextCursor *string    `json:"next_cursor"`
}

// handleListCalls is GET /calls: a page of the tenant's calls, newest
// first, each without its timeline.
func (s *Server) handleListCalls(c *gin.Context) {
	f, err := decodeCallFilter(c.Request.URL.RawQuery)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	page, err := s.calls.List(c.Request.Context(), tenantOf(c), f)
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

// decodeCallFilter reads the query string of GET /calls. A parameter it
// does not know, one given twice or given empty is refused rather than
// ignored: a typo (statuss=failed) must not list every call. Returns
// EINVALID naming each bad parameter, the filter's own rules
// (dialq.CallFilter.Validate) included.
func decodeCallFilter(rawQuery string) (dialq.CallFilter, error) {
	var f dialq.CallFilter
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return f, dialq.InvalidField("query", "is not a valid query string: %v", err)
	}
	var fields []dialq.FieldError
	bad := func(name, format string, args ...any) {
		fields = append(fields, dialq.FieldError{Field: name, Message: fmt.Sprintf(format, args...)})
	}
	var unknown []string
	for name := range q {
		if !slices.Contains(listParams, name) {
			unknown = append(unknown, name)
		}
	}
	for _, name := range listParams {
		vs, ok := q[name]
		switch {
		case !ok:
			continue
		case len(vs) > 1:
			bad(name, "is given %d times; give it once", len(vs))
			continue
		case vs[0] == "":
			bad(name, "is empty; leave it out to not filter by it")
			continue
		}
		v := vs[0]
		switch name {
		case "status":
			f.Status = dialq.CallStatus(v)
		case "to_number":
			if strings.HasPrefix(v, " ") {
				bad(name, "must start with +, sent as %%2B: a bare + in a query string reads as a space")
				continue
			}
			f.ToNumber = v
		case "assistant_id":
			id, err := dialq.ParseUUID(v)
			if err != nil {
				bad(name, "must be a UUID")
				continue
			}
			f.AssistantID = id
		case "created_from", "created_to":
			t, msg := parseQueryTime(v)
			if msg != "" {
				bad(name, "%s", msg)
				continue
			}
			if name == "created_from" {
				f.CreatedFrom = t
			} else {
				f.CreatedTo = t
			}
		case "limit":
			n, err := strconv.Atoi(v)
			if !limitPattern.MatchString(v) || err != nil || n < 1 {
				// 0 is refused here: to the filter it means "the default".
				bad(name, "must be a whole number from 1 to %d", dialq.MaxCallPage)
				continue
			}
			f.Limit = n
		case "cursor":
			f.After = v
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		bad(name, "is not a known parameter; allowed: %s", strings.Join(listParams, ", "))
	}
	if len(fields) == 0 {
		return f, nil // the calls service validates the rest
	}
	// Name the filter's own errors too, so one answer lists every bad
	// parameter. The ones refused above are zero in f and pass.
	check := f
	fields = append(fields, dialq.ErrorFields(check.Validate())...)
	slices.SortStableFunc(fields, func(a, b dialq.FieldError) int { return paramOrder(a.Field) - paramOrder(b.Field) })
	return f, &dialq.Error{Code: dialq.EINVALID, Message: "Invalid request: " + joinFields(fields) + ".", Fields: fields}
}

// paramOrder places a parameter's error: the known ones in listParams
// order, then the unknown ones.
func paramOrder(name string) int {
	if i := slices.Index(listParams, name); i >= 0 {
		return i
	}
	return len(listParams)
}

// parseQueryTime reads an RFC 3339 time, and says why it is not one.
func parseQueryTime(v string) (time.Time, string) {
	t, err := time.Parse(time.RFC3339, v)
	if err == nil {
		return t, ""
	}
	msg := "must be an RFC 3339 time, such as 2025-01-02T15:04:05Z or 2025-01-02T20:34:05+05:30"
	if strings.Contains(v, " ") {
		msg += "; send a + offset as %2B: a bare + in a query string reads as a space"
	}
	return time.Time{}, msg
}
