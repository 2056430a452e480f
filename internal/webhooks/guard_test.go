package webhooks_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/webhooks"
)

func TestForbidden(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr      string
		forbidden bool
	}{
		{"127.0.0.1", true}, {"127.9.9.9", true}, {"::1", true}, {"10.0.0.1", true}, {"172.16.5.4", true},
		{"192.168.0.1", true}, {"169.254.169.254", true}, {"fe80::1", true}, {"fc00::1", true}, {"0.0.0.0", true},
		{"::", true}, {"::ffff:10.0.0.1", true}, {"64:ff9b::7f00:1", true}, {"100.64.0.1", true}, {"224.0.0.1", true},
		{"255.255.255.255", true},
		{"93.184.215.14", false}, {"8.8.8.8", false}, {"2606:4700::1111", false}, {"64:ff9b::808:808", false},
	} {
		require.Equal(t, tt.forbidden, webhooks.Forbidden(netip.MustParseAddr(tt.addr)), tt.addr)
	}
}
