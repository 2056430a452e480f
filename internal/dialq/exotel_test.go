package dialq_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

func TestExotelConfigNormalize(t *testing.T) {
	t.Parallel()
	c := dialq.ExotelConfig{CallerID: "+918044319240", Username: "u", Password: "hunter2-secret", MediaIP: "203.0.113.7", RTPPortMin: 40000, RTPPortMax: 40999}
	require.NoError(t, c.Normalize())
	require.Equal(t, "pstn.in1.exotel.com", c.SIPHost)
	require.Equal(t, 5070, c.SIPPort)
	require.Equal(t, "tcp", c.Transport)
	require.Equal(t, "pstn.in1.exotel.com", c.FromDomain)
	require.Equal(t, "08044319240", c.CallerID)
	require.NotContains(t, c.String(), "hunter2")

	bad := dialq.ExotelConfig{Transport: "tls", CallerID: "8044319240", MediaIP: "nope", RTPPortMin: 5, RTPPortMax: 4}
	err := bad.Normalize()
	var names []string
	for _, f := range dialq.ErrorFields(err) {
		names = append(names, f.Field)
	}
	require.Equal(t, []string{"transport", "caller_id", "username", "media_ip", "rtp_port_min"}, names)
}
