package campaigns

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
)

// Suppress puts numbers on tenant's do-not-call list with reason; a number
// already there is fine (it keeps its first reason). Returns how many were
// new. Returns EINVALID naming numbers[i] for each number that is not
// E.164, numbers when there are none or too many, reason when too long.
func (s *Service) Suppress(ctx context.Context, tenant uuid.UUID, numbers []string, reason string) (int, error) {
	var fields []dialq.FieldError
	switch {
	case len(numbers) == 0:
		fields = append(fields, dialq.FieldError{Field: "numbers", Message: "is required: give at least one number"})
	case len(numbers) > dialq.MaxSuppressionsPerRequest:
		fields = append(fields, dialq.FieldError{Field: "numbers",
			Message: fmt.Sprintf("has %d numbers; at most %d are allowed per request", len(numbers), dialq.MaxSuppressionsPerRequest)})
	}
	seen := make(map[string]bool, len(numbers))
	unique := make([]string, 0, len(numbers))
	for i, n := range numbers {
		if err := dialq.CheckE164(fmt.Sprintf("numbers[%d]", i), n); err != nil {
			fields = append(fields, dialq.ErrorFields(err)...)
			continue
		}
		if !seen[n] {
			seen[n] = true
			unique = append(unique, n)
		}
	}
	if len(reason) > dialq.MaxSuppressionReason {
		fields = append(fields, dialq.FieldError{Field: "reason",
			Message: fmt.Sprintf("is %d bytes; at most %d are allowed", len(reason), dialq.MaxSuppressionReason)})
	}
	if len(fields) > 0 {
		return 0, invalid(fields)
	}
	return s.store.Suppress(ctx, tenant, unique, reason)
}

// IsSuppressed reports whether number is on tenant's do-not-call list.
func (s *Service) IsSuppressed(ctx context.Context, tenant uuid.UUID, number string) (bool, error) {
	return s.store.IsSuppressed(ctx, tenant, number)
}

// SuppressionPage is one page of a do-not-call list, newest first.
type SuppressionPage struct {
	Numbers []dialq.Suppression
	// Next is the cursor of the next page; empty on the last one.
	Next string
}

// Suppressions returns a page of tenant's do-not-call list, newest first:
// limit numbers (0: dialq.DefaultSuppressionPage) after cursor (a page's
// Next). Returns EINVALID naming limit or cursor.
func (s *Service) Suppressions(ctx context.Context, tenant uuid.UUID, limit int, cursor string) (SuppressionPage, error) {
	var fields []dialq.FieldError
	switch {
	case limit == 0:
		limit = dialq.DefaultSuppressionPage
	case limit < 1 || limit > dialq.MaxSuppressionPage:
		fields = append(fields, dialq.FieldError{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d", dialq.MaxSuppressionPage)})
	}
	var afterAt time.Time
	var afterNumber string
	if cursor != "" {
		var ok bool
		if afterAt, afterNumber, ok = decodeSuppressionCursor(cursor); !ok {
			fields = append(fields, dialq.FieldError{Field: "cursor", Message: "is not a cursor this API returned"})
		}
	}
	if len(fields) > 0 {
		return SuppressionPage{}, invalid(fields)
	}
	list, err := s.store.ListSuppressions(ctx, tenant, limit+1, afterAt, afterNumber)
	if err != nil {
		return SuppressionPage{}, err
	}
	page := SuppressionPage{Numbers: list}
	if len(list) > limit {
		page.Numbers = list[:limit]
		last := list[limit-1]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(last.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + last.Number))
	}
	return page, nil
}

func decodeSuppressionCursor(s string) (time.Time, string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return time.Time{}, "", false
	}
	at, number, ok := strings.Cut(string(b), "|")
	t, err := time.Parse(time.RFC3339Nano, at)
	if !ok || err != nil || dialq.CheckE164("cursor", number) != nil {
		return time.Time{}, "", false
	}
	return t, number, true
}

// Unsuppress takes number off tenant's do-not-call list. Returns EINVALID
// naming number if it is not E.164, ENOTFOUND if it is not on the list.
func (s *Service) Unsuppress(ctx context.Context, tenant uuid.UUID, number string) error {
	if err := dialq.CheckE164("number", number); err != nil {
		return err
	}
	return s.store.DeleteSuppression(ctx, tenant, number)
}

func invalid(fields []dialq.FieldError) error {
	return &dialq.Error{Code: dialq.EINVALID, Message: invalidMessage(fields), Fields: fields}
}
