package dialq

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// AnsweredBy says who or what took the call, as the agent heard it.
type AnsweredBy string

// Who an agent may say answered.
const (
	AnsweredByHuman   AnsweredBy = "human"
	AnsweredByMachine AnsweredBy = "machine" // voicemail, an answering machine
	AnsweredByIVR     AnsweredBy = "ivr"
	AnsweredByUnknown AnsweredBy = "unknown"
)

// Limits of a report.
const (
	MaxDispositionLen = 64
	MaxSummaryBytes   = 4 << 10
	MaxReportData     = 16 << 10 // bytes of data, encoded as JSON
)

// Report is what the call's agent says of the call once it is over (or as
// it goes): who answered, a disposition label of the agent's own, a summary
// and any data the agent collected. The latest report of a call is kept.
type Report struct {
	AnsweredBy  AnsweredBy     `json:"answered_by,omitempty"`
	Disposition string         `json:"disposition,omitempty"`
	Summary     string         `json:"summary,omitempty"`
	Data        map[string]any `json:"data,omitempty"`
	ReportedAt  time.Time      `json:"reported_at"`
}

// Validate checks r against the report rules. Returns EINVALID naming every
// bad field.
func (r *Report) Validate() error {
	var fields []FieldError
	bad := func(field, msg string) { fields = append(fields, FieldError{Field: field, Message: msg}) }
	switch r.AnsweredBy {
	case "", AnsweredByHuman, AnsweredByMachine, AnsweredByIVR, AnsweredByUnknown:
	default:
		bad("answered_by", "must be one of human, machine, ivr, unknown")
	}
	if msg := checkText(r.Disposition); msg != "" {
		bad("disposition", msg)
	} else if utf8.RuneCountInString(r.Disposition) > MaxDispositionLen {
		bad("disposition", "must be at most 64 characters")
	}
	if msg := checkText(r.Summary); msg != "" {
		bad("summary", msg)
	} else if len(r.Summary) > MaxSummaryBytes {
		bad("summary", "must be at most 4096 bytes")
	}
	if r.Data != nil {
		if p, msg := checkMetadataValue("data", r.Data); msg != "" {
			bad(p, msg)
		} else if b, err := json.Marshal(r.Data); err != nil || len(b) > MaxReportData {
			bad("data", "must be at most 16384 bytes encoded as JSON")
		}
	}
	if r.AnsweredBy == "" && r.Disposition == "" && r.Summary == "" && r.Data == nil {
		bad("body", "reports nothing; send at least one of answered_by, disposition, summary, data")
	}
	if len(fields) > 0 {
		return &Error{Code: EINVALID, Message: invalidMessage(fields), Fields: fields}
	}
	return nil
}

// ReportTokenPrefix starts every report token, so the API tells one from
// an API key at a glance.
const ReportTokenPrefix = "dqr_"

// ReportTokenTTL is how long a report token outlives its call's end.
const ReportTokenTTL = time.Hour

// ReportTokens issues and checks the tokens a call's agent reports and
// hangs up with: valid for that call only, until an hour after it ends.
// A token is an HMAC of the call and its tenant, so the worker that
// dispatches the agent and the API that checks the token need only share
// the key, and every attempt of the call issues the same token (a retry
// finds its dispatch by its metadata). A nil *ReportTokens issues none.
type ReportTokens struct{ key []byte }

// NewReportTokens returns the tokens of secret (DIALQ_SECRET_KEY), under a
// key of their own derived from it.
func NewReportTokens(secret []byte) *ReportTokens {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("dialq report token v1"))
	return &ReportTokens{key: m.Sum(nil)}
}

// Issue returns c's report token, or "" from a nil t.
func (t *ReportTokens) Issue(c *Call) string {
	if t == nil {
		return ""
	}
	return ReportTokenPrefix + base64.RawURLEncoding.EncodeToString(t.mac(c.ID, c.TenantID))
}

// Valid reports whether token is c's report token and still valid at now.
func (t *ReportTokens) Valid(c *Call, token string, now time.Time) bool {
	if t == nil || !strings.HasPrefix(token, ReportTokenPrefix) {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(token, ReportTokenPrefix))
	if err != nil || !hmac.Equal(got, t.mac(c.ID, c.TenantID)) {
		return false
	}
	return c.EndedAt == nil || now.Before(c.EndedAt.Add(ReportTokenTTL))
}

func (t *ReportTokens) mac(call, tenant uuid.UUID) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write(call[:])
	m.Write(tenant[:])
	return m.Sum(nil)
}

// ReportURL is where the agent of call id posts its report, on the API
// whose public address is publicURL.
func ReportURL(publicURL string, id uuid.UUID) string {
	if publicURL == "" {
		return ""
	}
	return strings.TrimSuffix(publicURL, "/") + "/call/" + id.String() + "/report"
}

// ReportAccess is how the agent reaches back: the URL it posts its report
// to and the token it authenticates with.
type ReportAccess struct {
	URL   string
	Token string
}
