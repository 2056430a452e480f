package dialq

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Why an uploaded contact row is refused: the kinds a validation report
// counts rows by.
const (
	ProblemNumber      = "invalid_number"      // to_number is not a possible E.164 number
	ProblemTimezone    = "invalid_timezone"    // the row's timezone is not an IANA zone
	ProblemMetadata    = "invalid_metadata"    // a metadata key or value breaks a rule
	ProblemPlaceholder = "missing_placeholder" // the assistant needs a key the row lacks
	ProblemCSV         = "malformed_csv"       // the line is not a well-formed CSV record
	ProblemDuplicate   = "duplicate"           // an earlier row has the same number
	ProblemSuppressed  = "suppressed"          // the number is on the tenant's do-not-call list
)

// Limits of an upload.
const (
	// MaxReportRows caps the bad rows a validation report lists; its
	// counts always cover every row.
	MaxReportRows = 1000
	// MaxContactFieldBytes bounds one CSV cell or JSON value of a contact
	// that is not metadata (to_number, timezone).
	MaxContactFieldBytes = 256
)

// ContactProblem is one bad row of an upload, as the validation report
// names it: the row's line (CSV: its line in the file, the header being
// line 1; JSON: its index in contacts, from 1), the field at fault
// (to_number, timezone, metadata.<key>, csv) and why.
type ContactProblem struct {
	Line   int64  `json:"line" db:"line"`
	Field  string `json:"field" db:"field"`
	Reason string `json:"reason" db:"reason"`
	Kind   string `json:"kind" db:"kind"`
}

// StagedContact is one row of an upload on its way into Postgres, checked
// by CheckContact. A row with a Problem is kept, to be counted and
// reported; its ToNumber is then empty unless it is a valid number.
type StagedContact struct {
	Line     int64
	ToNumber string
	// Timezone is the zone the row gives or its number's one zone; empty
	// when neither says (the campaign's default_timezone then applies).
	Timezone string
	// Metadata is the row's metadata as a JSON object.
	Metadata []byte
	Problem  *ContactProblem
}

// UploadCounts are the counts of a validation report: every row of the
// upload is in exactly one of Valid, Invalid, Duplicates and Suppressed.
type UploadCounts struct {
	Rows       int64 `json:"rows"`
	Valid      int64 `json:"valid"`
	Invalid    int64 `json:"invalid"`
	Duplicates int64 `json:"duplicates"`
	Suppressed int64 `json:"suppressed"`
	// InvalidByReason splits Invalid by problem kind (invalid_number, ...).
	InvalidByReason map[string]int64 `json:"invalid_by_reason"`
}

// Refused is how many rows a campaign created from the upload would not
// call.
func (c UploadCounts) Refused() int64 { return c.Rows - c.Valid }

// ContactStaging is one upload's contacts, staged inside a transaction:
// added as they stream in, checked against each other, the tenant's
// do-not-call list and the assistant's placeholders, then either stored
// with their campaign (Commit) or thrown away (Rollback).
type ContactStaging interface {
	// Add stages one row; rows come in line order.
	Add(c StagedContact) error
	// Check marks, among the rows without a problem, those that lack a key
	// of required or hold no text, number or boolean in it
	// (missing_placeholder), whose number tenant suppresses,
	// and every row of a number but its first (duplicate), and returns the
	// counts.
	Check(ctx context.Context, tenant uuid.UUID, required []string) (UploadCounts, error)
	// Problems lists the first limit bad rows by line.
	Problems(ctx context.Context, limit int) ([]ContactProblem, error)
	// Zones counts the valid rows per zone, def standing for the rows whose
	// zone is empty.
	Zones(ctx context.Context, def string) (map[string]int64, error)
	// Commit stores c with the valid rows as its pending contacts (not
	// before notBefore; c.ContactsTotal is theirs) and ends the
	// transaction.
	Commit(ctx context.Context, c *Campaign, notBefore time.Time) error
	// Rollback throws the upload away; after Commit it does nothing.
	Rollback() error
}

// ReportText is s as a validation report can hold it: valid UTF-8
// without NUL (Postgres text), at most 300 bytes.
func ReportText(s string) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "?"), "\x00", "?")
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "..."
	}
	return s
}

// CheckContact checks one contact row's own fields and returns the first
// problem, or nil: an E.164 to_number, a timezone that is an IANA zone
// (when given), metadata keys and values by the rules of POST
// /call/outbound's metadata (metadataBytes is the object's size as sent).
func CheckContact(line int64, toNumber, timezone string, metadata map[string]any, metadataBytes int) *ContactProblem {
	bad := func(kind, field, format string, args ...any) *ContactProblem {
		return &ContactProblem{Line: line, Field: field, Reason: fmt.Sprintf(format, args...), Kind: kind}
	}
	switch {
	case toNumber == "":
		return bad(ProblemNumber, "to_number", "is required")
	case len(toNumber) > MaxContactFieldBytes:
		return bad(ProblemNumber, "to_number", "is %d bytes long; it must be in E.164 format (e.g. +15550100000)", len(toNumber))
	}
	if msg := checkE164(toNumber); msg != "" {
		return bad(ProblemNumber, "to_number", "%q %s", toNumber, msg)
	}
	if timezone != "" {
		if len(timezone) > MaxContactFieldBytes {
			return bad(ProblemTimezone, "timezone", "is %d bytes long; it must be an IANA time zone such as America/New_York", len(timezone))
		}
		if _, err := LoadZone(timezone); err != nil {
			return bad(ProblemTimezone, "timezone", "%q is not an IANA time zone such as America/New_York", timezone)
		}
	}
	if len(metadata) > MaxMetadataKeys {
		return bad(ProblemMetadata, "metadata", "has %d keys; at most %d are allowed", len(metadata), MaxMetadataKeys)
	}
	if metadataBytes > MaxMetadataBytes {
		return bad(ProblemMetadata, "metadata", "is %d bytes; at most %d are allowed", metadataBytes, MaxMetadataBytes)
	}
	for _, k := range sortedKeys(metadata) {
		if msg := CheckMetadataKey(k); msg != "" {
			return bad(ProblemMetadata, "metadata."+strings.ToValidUTF8(k, "?"), "%s", msg)
		}
		if path, msg := checkMetadataValue("metadata."+k, metadata[k]); msg != "" {
			return bad(ProblemMetadata, path, "%s", msg)
		}
	}
	return nil
}

// CheckMetadataKey returns why k cannot be a metadata key (a CSV column's
// name), or "".
func CheckMetadataKey(k string) string {
	if len(k) > MaxMetadataKeyBytes || !metaKeyPattern.MatchString(k) {
		return fmt.Sprintf("key must be 1 to %d letters, digits, _, . or -", MaxMetadataKeyBytes)
	}
	return ""
}

// RequiredPlaceholders returns the keys the templates' placeholders use
// without a default ({{name}}, not {{name|there}}), sorted: the metadata
// every contact of a campaign with that assistant must have.
func RequiredPlaceholders(templates ...string) []string {
	var keys []string
	for _, tpl := range templates {
		for _, m := range placeholderPattern.FindAllStringSubmatch(tpl, -1) {
			if !strings.Contains(m[0], "|") && !slices.Contains(keys, m[1]) {
				keys = append(keys, m[1])
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// Suppression is a number on a tenant's do-not-call list: no campaign
// calls it, checked at upload and right before each dial.
type Suppression struct {
	Number    string    `json:"number" db:"number"`
	Reason    string    `json:"reason" db:"reason"`
	CreatedAt time.Time `json:"created_at" db:"created_at"`
}

// Do-not-call list limits.
const (
	// MaxSuppressionsPerRequest bounds the numbers one POST /suppressions
	// adds.
	MaxSuppressionsPerRequest = 1000
	// MaxSuppressionReason bounds a suppression's reason, in bytes.
	MaxSuppressionReason = 500
	// DefaultSuppressionPage and MaxSuppressionPage are the page sizes of
	// GET /suppressions.
	DefaultSuppressionPage = 100
	MaxSuppressionPage     = 1000
)

// NewCampaign is a campaign as a client asks for it, before its contacts.
type NewCampaign struct {
	Name        string
	AssistantID string
	TrunkID     string
	CallService string
	Settings    CampaignSettings
}

// Validate returns an EINVALID *Error naming each bad field (settings
// under "settings."), or nil. The assistant and trunk are checked against
// the tenant's later.
func (n *NewCampaign) Validate() error {
	var fields []FieldError
	bad := func(field, format string, args ...any) {
		fields = append(fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	switch {
	case strings.TrimSpace(n.Name) == "":
		bad("name", "is required")
	case len(n.Name) > MaxCampaignName:
		bad("name", "is %d bytes; at most %d are allowed", len(n.Name), MaxCampaignName)
	case hasControl(n.Name) || checkText(n.Name) != "":
		bad("name", "must be printable text")
	}
	switch {
	case n.AssistantID == "":
		bad("assistant_id", "is required")
	case !isUUID(n.AssistantID):
		bad("assistant_id", "must be a UUID such as 550e8400-e29b-41d4-a716-446655440000")
	}
	switch {
	case n.TrunkID == "":
		bad("trunk_id", "is required")
	case !trunkIDPattern.MatchString(n.TrunkID):
		bad("trunk_id", "must start with ST_ followed by letters, digits, _ or - (at most 64)")
	}
	switch {
	case n.CallService == "":
		bad("call_service", "is required")
	case !CallService(n.CallService).Valid():
		bad("call_service", "must be one of: twilio, exotel")
	}
	n.Settings.Validate(CallService(n.CallService), "settings.", bad)
	if len(fields) > 0 {
		return &Error{Code: EINVALID, Message: invalidMessage(fields), Fields: fields}
	}
	return nil
}
