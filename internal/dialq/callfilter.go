package dialq

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Page sizes of a list of calls.
const (
	DefaultCallPage = 50
	MaxCallPage     = 500
)

// CallFilter selects a tenant's calls for a list, newest first. Zero fields
// select everything.
type CallFilter struct {
	Status      CallStatus
	ToNumber    string
	AssistantID uuid.UUID
	// CampaignID selects the calls of one campaign (GET
	// /campaigns/{id}/calls).
	CampaignID uuid.UUID
	// CreatedFrom and CreatedTo bound created_at: from inclusive, to
	// exclusive.
	CreatedFrom, CreatedTo time.Time
	// Limit is the page size, 1 to MaxCallPage; 0 is DefaultCallPage.
	Limit int
	// After continues a list after the call of this cursor (CallPage.Next).
	After string

	// after is After decoded by Validate.
	after *callCursor
}

// CallPage is one page of a list of calls.
type CallPage struct {
	Calls []*Call
	// Next is the cursor of the next page; empty on the last one.
	Next string
}

type callCursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// CursorAfter is the cursor of the page that follows c.
func CursorAfter(c *Call) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID.String()))
}

// Validate checks the filter, fills the default page size and decodes the
// cursor. Returns EINVALID naming each bad field.
func (f *CallFilter) Validate() error {
	var fields []FieldError
	bad := func(field, msg string) { fields = append(fields, FieldError{Field: field, Message: msg}) }
	if f.Status != "" && !f.Status.Known() {
		bad("status", "must be one of "+strings.Join(statusNames(), ", "))
	}
	if f.ToNumber != "" {
		if msg := checkE164(f.ToNumber); msg != "" {
			bad("to_number", msg)
		}
	}
	switch {
	case f.Limit == 0:
		f.Limit = DefaultCallPage
	case f.Limit < 1 || f.Limit > MaxCallPage:
		bad("limit", "must be 1 to 500")
	}
	if !f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && !f.CreatedFrom.Before(f.CreatedTo) {
		bad("created_from", "must be before created_to")
	}
	if f.After != "" {
		c, ok := decodeCursor(f.After)
		if !ok {
			bad("cursor", "is not a cursor this API returned")
		}
		f.after = c
	}
	if len(fields) > 0 {
		return &Error{Code: EINVALID, Message: invalidMessage(fields), Fields: fields}
	}
	return nil
}

// Cursor returns the decoded position the list continues after, if any.
func (f *CallFilter) Cursor() (createdAt time.Time, id uuid.UUID, ok bool) {
	if f.after == nil {
		return time.Time{}, uuid.Nil, false
	}
	return f.after.CreatedAt, f.after.ID, true
}

func decodeCursor(s string) (*callCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	at, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return nil, false
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return nil, false
	}
	return &callCursor{CreatedAt: t, ID: u}, true
}
