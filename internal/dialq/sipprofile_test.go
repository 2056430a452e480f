package dialq_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// sbc is a second carrier: a customer's SBC that takes E.164 numbers as
// they are, over UDP, and has no host of its own.
var sbc = dialq.SIPProfile{
	Name:         "Acme SBC",
	Transport:    "udp",
	Number:       func(e164 string) string { return e164 },
	CallerID:     func(id string) (string, bool) { return id, e164.MatchString(id) },
	CallerIDRule: "must be an E.164 number (e.g. +14155550100)",
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

func TestSIPProfileFor(t *testing.T) {
	t.Parallel()
	p, ok := dialq.SIPProfileFor(dialq.ServiceExotel)
	require.True(t, ok)
	require.Equal(t, "Exotel", p.Name)
	require.Equal(t, "pstn.in1.exotel.com", p.Host)
	require.Equal(t, 5070, p.Port)
	require.Equal(t, "tcp", p.Transport)

	_, ok = dialq.SIPProfileFor(dialq.ServiceTwilio)
	require.False(t, ok, "twilio trunks are dialed by LiveKit, not by dialq's bridge")
}

func TestDialledNumber(t *testing.T) {
	t.Parallel()
	cases := []struct {
		profile      dialq.SIPProfile
		number, want string
	}{
		{dialq.Exotel, "+918044319240", "08044319240"}, // Indian landline: national form
		{dialq.Exotel, "+919876543210", "09876543210"}, // Indian mobile
		{dialq.Exotel, "+14155550100", "14155550100"},  // elsewhere: E.164 digits
		{dialq.Exotel, "+447911123456", "447911123456"},
		{dialq.Exotel, "+9118001234", "018001234"},
		{sbc, "+918044319240", "+918044319240"}, // E.164 as it is
		{sbc, "+14155550100", "+14155550100"},
	}
	for _, tc := range cases {
		got, err := tc.profile.DialledNumber(tc.number)
		require.NoError(t, err, tc.number)
		require.Equal(t, tc.want, got, "%s: %s", tc.profile.Name, tc.number)
	}
	for _, bad := range []string{"", "918044319240", "08044319240", "+0918044319240", "+91 80443 19240",
		"+1234", "+1234567890123456", "+91804431924x"} {
		for _, p := range []dialq.SIPProfile{dialq.Exotel, sbc} {
			_, err := p.DialledNumber(bad)
			require.ErrorContains(t, err, "E.164", "%s: %s", p.Name, bad)
		}
	}
}

func TestExotelCallerID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		id, want string
		ok       bool
	}{
		{"08044319240", "08044319240", true},
		{"+918044319240", "08044319240", true}, // +91 → national form
		{"+919876543210", "09876543210", true},
		{"8044319240", "8044319240", false}, // no leading 0
		{"+14155550100", "+14155550100", false},
		{"080 4431 9240", "080 4431 9240", false},
		{"", "", false},
	}
	for _, tc := range cases {
		got, ok := dialq.Exotel.CallerID(tc.id)
		require.Equal(t, tc.want, got, tc.id)
		require.Equal(t, tc.ok, ok, tc.id)
	}
}
