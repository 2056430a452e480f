package dialq_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// TestReportTokens: a call's token is the same on every issue, good for
// that call only, and until an hour after the call ended.
func TestReportTokens(t *testing.T) {
	t.Parallel()
	tokens := dialq.NewReportTokens([]byte("0123456789abcdef0123456789abcdef"))
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c := &dialq.Call{ID: uuid.New(), TenantID: uuid.New()}
	tok := tokens.Issue(c)
	require.True(t, strings.HasPrefix(tok, dialq.ReportTokenPrefix))
	require.Equal(t, tok, tokens.Issue(c), "every attempt dispatches the same token")
	require.True(t, tokens.Valid(c, tok, now), "live call")

	other := &dialq.Call{ID: uuid.New(), TenantID: c.TenantID}
	require.False(t, tokens.Valid(other, tok, now), "another call")
	moved := &dialq.Call{ID: c.ID, TenantID: uuid.New()}
	require.False(t, tokens.Valid(moved, tok, now), "another tenant")
	require.False(t, dialq.NewReportTokens([]byte("another key")).Valid(c, tok, now), "another key")
	require.False(t, tokens.Valid(c, tok[:len(tok)-1], now), "cut short")
	require.False(t, tokens.Valid(c, "dk_"+tok, now), "not a report token")

	ended := now.Add(-59 * time.Minute)
	c.EndedAt = &ended
	require.True(t, tokens.Valid(c, tok, now), "59 minutes after the end")
	ended = now.Add(-61 * time.Minute)
	require.False(t, tokens.Valid(c, tok, now), "61 minutes after the end")

	var none *dialq.ReportTokens
	require.Empty(t, none.Issue(c))
	require.False(t, none.Valid(c, tok, now))
}

// TestReportValidate: each rule of a report names its field.
func TestReportValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		r     dialq.Report
		field string // "" for a valid report
	}{
		{name: "full", r: dialq.Report{AnsweredBy: dialq.AnsweredByHuman, Disposition: "interested", Summary: "Wants a demo.", Data: map[string]any{"slot": "Tue 10:00"}}},
		{name: "only answered_by", r: dialq.Report{AnsweredBy: dialq.AnsweredByMachine}},
		{name: "empty", r: dialq.Report{}, field: "body"},
		{name: "unknown answered_by", r: dialq.Report{AnsweredBy: "robot"}, field: "answered_by"},
		{name: "disposition too long", r: dialq.Report{Disposition: strings.Repeat("é", 65)}, field: "disposition"},
		{name: "disposition of 64", r: dialq.Report{Disposition: strings.Repeat("é", 64)}},
		{name: "summary too long", r: dialq.Report{Summary: strings.Repeat("x", 4097)}, field: "summary"},
		{name: "summary NUL", r: dialq.Report{Summary: "a\x00b"}, field: "summary"},
		{name: "data too large", r: dialq.Report{Data: map[string]any{"x": strings.Repeat("y", 16<<10)}}, field: "data"},
		{name: "data bad key", r: dialq.Report{Data: map[string]any{"a\x00": 1}}, field: "data.a\x00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.r.Validate()
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			require.Equal(t, dialq.EINVALID, dialq.ErrorCode(err))
			require.Equal(t, tt.field, dialq.ErrorFields(err)[0].Field)
		})
	}
}
