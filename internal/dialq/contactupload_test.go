package dialq_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// TestRequiredPlaceholders: the keys without a default, once each, sorted.
func TestRequiredPlaceholders(t *testing.T) {
	got := dialq.RequiredPlaceholders("Hello {{ name }}, from {{company}}.", "Hi {{name}}, this is {{agent_name|Sarah}}; {{a.b-c}}")
	require.Equal(t, []string{"a.b-c", "company", "name"}, got)
	require.Empty(t, dialq.RequiredPlaceholders("no placeholders", "{{x|default}}"))
}

// TestCheckContact: a row's own fields, the first problem named by field
// and kind.
func TestCheckContact(t *testing.T) {
	tests := []struct {
		name        string
		number, tz  string
		md          map[string]any
		size        int
		kind, field string
	}{
		{"good", "+12125550100", "", map[string]any{"name": "A"}, 12, "", ""},
		{"good with zone", "+12125550100", "Asia/Kolkata", nil, 0, "", ""},
		{"no number", "", "", nil, 0, dialq.ProblemNumber, "to_number"},
		{"not e164", "2125550100", "", nil, 0, dialq.ProblemNumber, "to_number"},
		{"too long", "+1" + strings.Repeat("2", 300), "", nil, 0, dialq.ProblemNumber, "to_number"},
		{"bad zone", "+12125550100", "Local", nil, 0, dialq.ProblemTimezone, "timezone"},
		{"bad key", "+12125550100", "", map[string]any{"first name": "A"}, 20, dialq.ProblemMetadata, "metadata.first name"},
		{"NUL in a value", "+12125550100", "", map[string]any{"name": "A\x00"}, 20, dialq.ProblemMetadata, "metadata.name"},
		{"too big", "+12125550100", "", map[string]any{"name": "A"}, dialq.MaxMetadataBytes + 1, dialq.ProblemMetadata, "metadata"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := dialq.CheckContact(7, tt.number, tt.tz, tt.md, tt.size)
			if tt.kind == "" {
				require.Nil(t, p)
				return
			}
			require.NotNil(t, p)
			require.Equal(t, int64(7), p.Line)
			require.Equal(t, tt.kind, p.Kind)
			require.Equal(t, tt.field, p.Field)
			require.NotEmpty(t, p.Reason)
		})
	}
	require.Equal(t, "a?b", dialq.ReportText("a\x00b"))
	require.Equal(t, "a?", dialq.ReportText("a\xff"))
	require.Len(t, dialq.ReportText(strings.Repeat("x", 1000)), 303)
}

// TestNewCampaignNamesEachField: every bad field at once, settings under
// their prefix.
func TestNewCampaignNamesEachField(t *testing.T) {
	n := dialq.NewCampaign{Name: "", AssistantID: "x", TrunkID: "trunk", CallService: "sms",
		Settings: dialq.CampaignSettings{MaxConcurrency: -1, DefaultTimezone: "Mars/Base"}}
	var names []string
	for _, f := range dialq.ErrorFields(n.Validate()) {
		names = append(names, f.Field)
	}
	require.Equal(t, []string{"name", "assistant_id", "trunk_id", "call_service", "settings.default_timezone", "settings.max_concurrency"}, names)
}
