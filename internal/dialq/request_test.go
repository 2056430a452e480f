package dialq_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

func validRequest() dialq.OutboundRequest {
	return dialq.OutboundRequest{
		AssistantID: "550e8400-e29b-41d4-a716-446655440000",
		TrunkID:     "ST_a1b2c3d4e5f6",
		ToNumber:    "+15550200000",
		CallService: "twilio",
	}
}

func TestValidateAcceptsTheContractExamples(t *testing.T) {
	t.Parallel()
	r := validRequest()
	require.NoError(t, r.Validate(0))
	r.TrunkID, r.ToNumber, r.CallService = "ST_exotel_abc123", "+918044319240", "exotel"
	require.NoError(t, r.Validate(0))
}

func TestValidateNamesEveryBadField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mutate  func(*dialq.OutboundRequest)
		mdBytes int
		field   string
		message string
	}{
		{"assistant missing", func(r *dialq.OutboundRequest) { r.AssistantID = "" }, 0, "assistant_id", "is required"},
		{"assistant not uuid", func(r *dialq.OutboundRequest) { r.AssistantID = "abc" }, 0, "assistant_id", "must be a UUID"},
		{"assistant braces", func(r *dialq.OutboundRequest) { r.AssistantID = "{550e8400-e29b-41d4-a716-446655440000}" }, 0, "assistant_id", "must be a UUID"},
		{"trunk missing", func(r *dialq.OutboundRequest) { r.TrunkID = "" }, 0, "trunk_id", "is required"},
		{"trunk prefix", func(r *dialq.OutboundRequest) { r.TrunkID = "TR_abc" }, 0, "trunk_id", "must start with ST_"},
		{"trunk bare prefix", func(r *dialq.OutboundRequest) { r.TrunkID = "ST_" }, 0, "trunk_id", "must start with ST_"},
		{"number missing", func(r *dialq.OutboundRequest) { r.ToNumber = "" }, 0, "to_number", "is required"},
		{"number no plus", func(r *dialq.OutboundRequest) { r.ToNumber = "15550200000" }, 0, "to_number", "E.164"},
		{"number spaces", func(r *dialq.OutboundRequest) { r.ToNumber = "+1 555 020 0000" }, 0, "to_number", "E.164"},
		{"number unknown country", func(r *dialq.OutboundRequest) { r.ToNumber = "+9991234567" }, 0, "to_number", "unknown country code"},
		{"number too short", func(r *dialq.OutboundRequest) { r.ToNumber = "+1555" }, 0, "to_number", "too short"},
		{"number too long for India", func(r *dialq.OutboundRequest) { r.ToNumber = "+9180443192401234" }, 0, "to_number", "E.164"},
		{"service missing", func(r *dialq.OutboundRequest) { r.CallService = "" }, 0, "call_service", "is required"},
		{"service unknown", func(r *dialq.OutboundRequest) { r.CallService = "plivo" }, 0, "call_service", "one of: twilio, exotel"},
		{"service case", func(r *dialq.OutboundRequest) { r.CallService = "Twilio" }, 0, "call_service", "one of"},
		{"metadata too big", func(r *dialq.OutboundRequest) {}, dialq.MaxMetadataBytes + 1, "metadata", "bytes"},
		{"metadata bad key", func(r *dialq.OutboundRequest) { r.Metadata = map[string]any{"a b": "x"} }, 0, "metadata.a b", "key must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := validRequest()
			tt.mutate(&r)
			err := r.Validate(tt.mdBytes)
			require.Error(t, err)
			require.Equal(t, dialq.EINVALID, dialq.ErrorCode(err))
			fields := dialq.ErrorFields(err)
			require.Len(t, fields, 1, "%v", fields)
			require.Equal(t, tt.field, fields[0].Field)
			require.Contains(t, fields[0].Message, tt.message)
			require.Contains(t, dialq.ErrorMessage(err), tt.field)
		})
	}
}

func TestValidateReportsAllFieldsAtOnce(t *testing.T) {
	t.Parallel()
	r := dialq.OutboundRequest{}
	err := r.Validate(0)
	var names []string
	for _, f := range dialq.ErrorFields(err) {
		names = append(names, f.Field)
	}
	require.Equal(t, []string{"assistant_id", "trunk_id", "to_number", "call_service"}, names)
}

func TestValidateBoundsMetadataKeys(t *testing.T) {
	t.Parallel()
	r := validRequest()
	r.Metadata = map[string]any{}
	for i := range dialq.MaxMetadataKeys + 1 {
		r.Metadata["k"+strings.Repeat("x", i%5)+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	err := r.Validate(100)
	require.Equal(t, "metadata", dialq.ErrorFields(err)[0].Field)
	require.Contains(t, dialq.ErrorFields(err)[0].Message, "at most 100")
}

// TestParseUUIDTakesOnlyThe36CharacterForm: one rule for every id the API
// is sent; uuid.Parse's other spellings are refused.
func TestParseUUIDTakesOnlyThe36CharacterForm(t *testing.T) {
	t.Parallel()
	const canonical = "550e8400-e29b-41d4-a716-446655440000"
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"canonical", canonical, true},
		{"upper case", strings.ToUpper(canonical), true},
		{"braces", "{" + canonical + "}", false},
		{"urn", "urn:uuid:" + canonical, false},
		{"no hyphens", strings.ReplaceAll(canonical, "-", ""), false},
		{"hyphens moved", "550e8400e-29b-41d4-a716-446655440000", false},
		{"short", "550e8400", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := dialq.ParseUUID(tt.in)
			if !tt.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, canonical, id.String())
			r := validRequest()
			r.AssistantID = tt.in
			require.NoError(t, r.Validate(0), "POST takes what ParseUUID takes")
		})
	}
}
