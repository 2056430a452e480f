package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/dialq/dialq/internal/dialq"
)

// handleReport is POST /call/{id}/report: the call's agent says who
// answered, how the call went and what it collected
// (calls.Service.Report). It authenticates with the call's report token or
// the tenant's API key, and answers 200 with the call, its report and its
// timeline.
func (s *Server) handleReport(c *gin.Context) {
	id, err := callIDParam(c)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	body, err := readJSONBody(c.Request)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	r, err := decodeReport(body)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	call, err := s.calls.Report(c.Request.Context(), tenantOf(c), id, *r)
	if err != nil {
		writeError(c, s.log, err)
		return
	}
	s.writeCallView(c, http.StatusOK, "Report stored.", call)
}

// decodeReport decodes the body of POST /call/{id}/report strictly: one
// object of the report's fields, each of its type. The rules of their
// values are dialq.Report.Validate's.
func decodeReport(body []byte) (*dialq.Report, error) {
	var raw struct {
		AnsweredBy  *json.RawMessage `json:"answered_by"`
		Disposition *json.RawMessage `json:"disposition"`
		Summary     *json.RawMessage `json:"summary"`
		Data        *json.RawMessage `json:"data"`
	}
	if err := decodeStrict(body, &raw, "answered_by, disposition, summary, data"); err != nil {
		return nil, err
	}
	r := &dialq.Report{}
	var fields []dialq.FieldError
	str := func(name string, src *json.RawMessage, dst *string) {
		if src == nil || string(*src) == "null" {
			return
		}
		if err := json.Unmarshal(*src, dst); err != nil {
			fields = append(fields, dialq.FieldError{Field: name, Message: "must be a string"})
		}
	}
	var answeredBy string
	str("answered_by", raw.AnsweredBy, &answeredBy)
	r.AnsweredBy = dialq.AnsweredBy(answeredBy)
	str("disposition", raw.Disposition, &r.Disposition)
	str("summary", raw.Summary, &r.Summary)
	if raw.Data != nil && string(*raw.Data) != "null" {
		d := json.NewDecoder(bytes.NewReader(*raw.Data))
		d.UseNumber()
		if err := d.Decode(&r.Data); err != nil || r.Data == nil {
			fields = append(fields, dialq.FieldError{Field: "data", Message: "must be a JSON object"})
		}
	}
	if len(fields) > 0 {
		return nil, &dialq.Error{Code: dialq.EINVALID, Message: "Invalid request: " + joinFields(fields) + ".", Fields: fields}
	}
	return r, nil
}
