package dialq_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

func ptr[T any](v T) *T { return &v }

func TestDialOptionsValidate(t *testing.T) {
	t.Parallel()
	ok := []func(*dialq.OutboundRequest){
		func(r *dialq.OutboundRequest) {},
		func(r *dialq.OutboundRequest) { r.RingTimeout, r.MaxDuration = ptr(5.0), ptr(86400.0) },
		func(r *dialq.OutboundRequest) { r.RingTimeout = ptr(12.5) },
		func(r *dialq.OutboundRequest) { r.DisplayName = ptr("Acme Clinic – Reminders") },
		func(r *dialq.OutboundRequest) {
			r.SIPHeaders = map[string]string{"X-Campaign": "fall-2026", "x-lead-id": "42"}
		},
		func(r *dialq.OutboundRequest) { r.DTMF = "ww1234#w*9ABCD" },
		func(r *dialq.OutboundRequest) { r.PlayRingtone, r.Krisp = ptr(true), ptr(true) },
		func(r *dialq.OutboundRequest) { r.WaitUntil = dialq.WaitAnswered },
		func(r *dialq.OutboundRequest) { r.WaitUntil = dialq.WaitPlaced },
		func(r *dialq.OutboundRequest) { r.CallService, r.Krisp = "exotel", ptr(false) },
	}
	for i, mutate := range ok {
		r := validRequest()
		mutate(&r)
		require.NoError(t, r.Validate(0), "case %d", i)
	}

	bad := []struct {
		name    string
		mutate  func(*dialq.OutboundRequest)
		field   string
		message string
	}{
		{"ring too short", func(r *dialq.OutboundRequest) { r.RingTimeout = ptr(4.9) }, "ring_timeout", "from 5 to 120"},
		{"ring too long", func(r *dialq.OutboundRequest) { r.RingTimeout = ptr(121.0) }, "ring_timeout", "from 5 to 120"},
		{"max duration zero", func(r *dialq.OutboundRequest) { r.MaxDuration = ptr(0.0) }, "max_duration", "from 10 to 86400"},
		{"caller id spaces", func(r *dialq.OutboundRequest) { r.CallerID = " +15550100000" }, "caller_id", "spaces"},
		{"display name empty", func(r *dialq.OutboundRequest) { r.DisplayName = ptr("") }, "display_name", "1 to 64"},
		{"display name quote", func(r *dialq.OutboundRequest) { r.DisplayName = ptr(`Ann "the" Agent`) }, "display_name", "quotes"},
		{"display name newline", func(r *dialq.OutboundRequest) { r.DisplayName = ptr("Ann\r\nX-Evil: 1") }, "display_name", "control"},
		{"display name long", func(r *dialq.OutboundRequest) { r.DisplayName = ptr(strings.Repeat("é", 65)) }, "display_name", "65 characters"},
		{"header not X-", func(r *dialq.OutboundRequest) { r.SIPHeaders = map[string]string{"P-Asserted-Identity": "x"} }, "sip_headers.P-Asserted-Identity", "only X- headers"},
		{"header From", func(r *dialq.OutboundRequest) { r.SIPHeaders = map[string]string{"From": "x"} }, "sip_headers.From", "only X- headers"},
		{"header bare X-", func(r *dialq.OutboundRequest) { r.SIPHeaders = map[string]string{"X-": "x"} }, "sip_headers.X-", "only X- headers"},
		{"header value CRLF", func(r *dialq.OutboundRequest) { r.SIPHeaders = map[string]string{"X-A": "1\r\nVia: x"} }, "sip_headers.X-A", "printable ASCII"},
		{"header value long", func(r *dialq.OutboundRequest) { r.SIPHeaders = map[string]string{"X-A": strings.Repeat("a", 513)} }, "sip_headers.X-A", "printable ASCII"},
		{"header of dialq", func(r *dialq.OutboundRequest) { r.SIPHeaders = map[string]string{"x-dialq-call-id": "x"} }, "sip_headers.x-dialq-call-id", "dialq's own"},
		{"header twice", func(r *dialq.OutboundRequest) { r.SIPHeaders = map[string]string{"X-Lead": "1", "x-lead": "2"} }, "sip_headers.x-lead", "same header as sip_headers.X-Lead"},
		{"too many headers", func(r *dialq.OutboundRequest) {
			r.SIPHeaders = map[string]string{}
			for i := range 21 {
				r.SIPHeaders["X-H"+strings.Repeat("a", i+1)] = "v"
			}
		}, "sip_headers", "21 headers"},
		{"dtmf letter", func(r *dialq.OutboundRequest) { r.DTMF = "12e" }, "dtmf", "0-9 * # A-D"},
		{"dtmf pause upper", func(r *dialq.OutboundRequest) { r.DTMF = "1W2" }, "dtmf", "w for a half-second pause"},
		{"dtmf long", func(r *dialq.OutboundRequest) { r.DTMF = strings.Repeat("1", 65) }, "dtmf", "1 to 64"},
		{"krisp on exotel", func(r *dialq.OutboundRequest) { r.CallService, r.Krisp = "exotel", ptr(true) }, "krisp", "only for twilio"},
		{"wait until", func(r *dialq.OutboundRequest) { r.WaitUntil = "ringing" }, "wait_until", "placed, answered"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := validRequest()
			tt.mutate(&r)
			err := r.Validate(0)
			var de *dialq.Error
			require.ErrorAs(t, err, &de)
			require.Equal(t, dialq.EINVALID, de.Code)
			require.Len(t, de.Fields, 1, "%v", de.Fields)
			require.Equal(t, tt.field, de.Fields[0].Field)
			require.Contains(t, de.Fields[0].Message, tt.message)
			require.Contains(t, de.Message, tt.field, "the summary names the field")
		})
	}
}

// A request without dial options has the fingerprint it had before they
// existed, so an Idempotency-Key sent before still matches its repeat.
func TestFingerprintWithoutOptionsUnchanged(t *testing.T) {
	t.Parallel()
	r := validRequest()
	r.Metadata = map[string]any{"name": "Ann"}
	b, err := json.Marshal(r)
	require.NoError(t, err)
	require.JSONEq(t, `{"assistant_id":"550e8400-e29b-41d4-a716-446655440000","trunk_id":"ST_a1b2c3d4e5f6",
		"to_number":"+15550200000","call_service":"twilio","metadata":{"name":"Ann"}}`, string(b))
	with := r
	with.DTMF = "1"
	require.NotEqual(t, r.Fingerprint(), with.Fingerprint(), "an option is part of the request")
}

func TestNewCallCallerID(t *testing.T) {
	t.Parallel()
	tenant := uuid.New()
	a := &dialq.Assistant{ID: uuid.New(), TenantID: tenant, AgentName: "agent"}
	tw := &dialq.Trunk{ID: "ST_tw", TenantID: tenant, Provider: dialq.ServiceTwilio, LiveKitTrunkID: "ST_lk",
		Numbers: []string{"+15550100000", "+15550100001"}}
	ex := &dialq.Trunk{ID: "ST_ex", TenantID: tenant, Provider: dialq.ServiceExotel, Numbers: []string{"08044319240", "08044319241"}}
	now := time.Now()
	place := func(trunk *dialq.Trunk, service, callerID string) (*dialq.Call, error) {
		r := validRequest()
		r.CallService, r.CallerID = service, callerID
		if service == "exotel" {
			r.ToNumber = "+918044319999"
		}
		return dialq.NewCall(tenant, &r, a, trunk, now)
	}

	c, err := place(tw, "twilio", "+15550100001")
	require.NoError(t, err)
	require.Equal(t, "+15550100001", c.Options.CallerID)
	c, err = place(tw, "twilio", "")
	require.NoError(t, err)
	require.Empty(t, c.Options.CallerID, "no caller_id: the trunk's own")
	// The Exotel form is national; +91 is taken and put in that form.
	c, err = place(ex, "exotel", "+918044319241")
	require.NoError(t, err)
	require.Equal(t, "08044319241", c.Options.CallerID)

	for _, tt := range []struct {
		trunk                      *dialq.Trunk
		service, callerID, message string
	}{
		{tw, "twilio", "+15550100009", "must be one of trunk ST_tw's numbers: +15550100000, +15550100001"},
		{tw, "twilio", "15550100000", "E.164"},
		{ex, "exotel", "08044319000", "must be one of trunk ST_ex's numbers"},
		{ex, "exotel", "+15550100000", "national form"},
		{&dialq.Trunk{ID: "ST_none", Provider: dialq.ServiceTwilio, LiveKitTrunkID: "ST_lk"}, "twilio", "+15550100000", "has no numbers on record"},
	} {
		_, err := place(tt.trunk, tt.service, tt.callerID)
		var de *dialq.Error
		require.ErrorAs(t, err, &de, tt.callerID)
		require.Equal(t, "caller_id", de.Fields[0].Field)
		require.Contains(t, de.Fields[0].Message, tt.message)
	}
}

func TestDialTaskTimeout(t *testing.T) {
	t.Parallel()
	c := &dialq.Call{AgentJoinTimeout: 10 * time.Second}
	require.Equal(t, 90*time.Second, dialq.DialTaskTimeout(c, 90*time.Second), "no ring_timeout: the deployment's")
	c.Options.RingTimeout = ptr(20.0)
	require.Equal(t, 90*time.Second, dialq.DialTaskTimeout(c, 90*time.Second), "fits in the deployment's")
	c.Options.RingTimeout = ptr(120.0)
	require.Equal(t, 165*time.Second, dialq.DialTaskTimeout(c, 90*time.Second), "join wait + ring + 30 s + the dial margin")
}
