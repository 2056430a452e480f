package httpapi

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// GET /campaigns refuses what it does not take, naming each parameter, as
// GET /calls does.
func TestDecodeCampaignList(t *testing.T) {
	t.Parallel()
	limit, cursor, err := decodeCampaignList("limit=20&cursor=abc")
	require.NoError(t, err)
	require.Equal(t, 20, limit)
	require.Equal(t, "abc", cursor)
	limit, cursor, err = decodeCampaignList("")
	require.NoError(t, err)
	require.Zero(t, limit)
	require.Empty(t, cursor)

	for _, tc := range []struct {
		query  string
		fields []string
	}{
		{"limit=0", []string{"limit"}},
		{"limit=501", []string{"limit"}},
		{"limit=-1", []string{"limit"}},
		{"limit=1&limit=2", []string{"limit"}},
		{"cursor=", []string{"cursor"}},
		{"status=running&limit=x", []string{"limit", "status"}},
	} {
		_, _, err := decodeCampaignList(tc.query)
		require.Equal(t, dialq.EINVALID, dialq.ErrorCode(err), tc.query)
		var names []string
		for _, f := range dialq.ErrorFields(err) {
			names = append(names, f.Field)
		}
		require.Equal(t, tc.fields, names, tc.query)
	}
}
