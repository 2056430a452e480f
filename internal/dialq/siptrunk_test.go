package dialq_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

func TestSIPTrunkConfigNormalize(t *testing.T) {
	t.Parallel()
	c := dialq.SIPTrunkConfig{CallerID: "+918044319240", Username: "u", Password: "hunter2-secret", MediaIP: "203.0.113.7", RTPPortMin: 40000, RTPPortMax: 40999}
	require.NoError(t, c.Normalize(dialq.Exotel))
	require.Equal(t, "pstn.in1.exotel.com", c.SIPHost)
	require.Equal(t, 5070, c.SIPPort)
	require.Equal(t, "tcp", c.Transport)
	require.Equal(t, "pstn.in1.exotel.com", c.FromDomain)
	require.Equal(t, "08044319240", c.CallerID)
	require.NotContains(t, c.String(), "hunter2")

	bad := dialq.SIPTrunkConfig{Transport: "tls", CallerID: "8044319240", MediaIP: "nope", RTPPortMin: 5, RTPPortMax: 4}
	err := bad.Normalize(dialq.Exotel)
	require.Equal(t, []dialq.FieldError{
		{Field: "transport", Message: "must be tcp or udp"},
		{Field: "caller_id", Message: "must be the Exotel number in national form, 0 then digits (e.g. 08044319240)"},
		{Field: "username", Message: "is required"},
		{Field: "media_ip", Message: "must be the IP address Exotel sends RTP to"},
		{Field: "rtp_port_min", Message: "and rtp_port_max must be a range of at least 2 ports within 1024-65535"},
	}, dialq.ErrorFields(err))
}

// TestSIPTrunkConfigNormalizeOtherCarrier normalizes a trunk of a carrier
// with no default host and E.164 caller IDs: the trunk keeps what it says,
// gets the profile's transport, and must name its host.
func TestSIPTrunkConfigNormalizeOtherCarrier(t *testing.T) {
	t.Parallel()
	c := dialq.SIPTrunkConfig{SIPHost: "sbc.example.net", SIPPort: 5080, CallerID: "+14155550100", Username: "u",
		MediaIP: "203.0.113.7", RTPPortMin: 40000, RTPPortMax: 40999}
	require.NoError(t, c.Normalize(sbc))
	require.Equal(t, dialq.SIPTrunkConfig{SIPHost: "sbc.example.net", SIPPort: 5080, Transport: "udp",
		FromDomain: "sbc.example.net", CallerID: "+14155550100", Username: "u",
		MediaIP: "203.0.113.7", RTPPortMin: 40000, RTPPortMax: 40999}, c)

	bad := c
	bad.SIPHost, bad.SIPPort, bad.FromDomain, bad.CallerID = "", 0, "", "08044319240"
	require.Equal(t, []dialq.FieldError{
		{Field: "sip_host", Message: "is required"},
		{Field: "sip_port", Message: "must be 1 to 65535"},
		{Field: "caller_id", Message: sbc.CallerIDRule},
	}, dialq.ErrorFields(bad.Normalize(sbc)))
}
