package sipua_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/sipbridge/sipua"
)

func TestDialledNumber(t *testing.T) {
	t.Parallel()
	cases := []struct {
		number, want string
	}{
		{"+918044319240", "08044319240"}, // Indian landline: national form
		{"+919876543210", "09876543210"}, // Indian mobile
		{"+14155550100", "14155550100"},  // elsewhere: E.164 digits
		{"+447911123456", "447911123456"},
		{"+9118001234", "018001234"},
	}
	for _, tc := range cases {
		got, err := sipua.DialledNumber(tc.number)
		require.NoError(t, err, tc.number)
		require.Equal(t, tc.want, got, tc.number)
	}
	for _, bad := range []string{"", "918044319240", "08044319240", "+0918044319240", "+91 80443 19240",
		"+1234", "+1234567890123456", "+91804431924x"} {
		_, err := sipua.DialledNumber(bad)
		require.Error(t, err, bad)
	}
}
