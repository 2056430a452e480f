package postgres_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/secret"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestExotelPasswordIsSealedAtRest: the SIP password is stored sealed and
// comes back only through SIPTrunkConfig, with the right key.
func TestExotelPasswordIsSealedAtRest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, dsn := testenv.Postgres(t)
	box, err := secret.BoxFromKey(secret.NewKey())
	require.NoError(t, err)

	tenant := uuid.New()
	require.NoError(t, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "t"}))
	tr := &dialq.Trunk{ID: "ST_exo", TenantID: tenant, Provider: dialq.ServiceExotel, SIP: &dialq.SIPTrunkConfig{
		CallerID: "08044319240", Username: "acme", Password: "hunter2-secret", MediaIP: "127.0.0.1", RTPPortMin: 40000, RTPPortMax: 40100}}
	err = db.SaveTrunk(ctx, tr)
	require.ErrorContains(t, err, "DIALQ_SECRET_KEY", "no key, no password stored")

	db.UseSecrets(box)
	require.NoError(t, db.SaveTrunk(ctx, tr))

	// Nothing in the row reads as the password.
	raw := testenv.SQL(t, dsn, `SELECT coalesce(sip_config::text, '') || encode(sip_password_enc, 'escape') FROM trunks WHERE id = 'ST_exo'`)
	require.NotContains(t, raw, "hunter2")
	require.Contains(t, raw, "08044319240")

	c, err := db.SIPTrunkConfig(ctx, "ST_exo")
	require.NoError(t, err)
	require.Equal(t, "hunter2-secret", c.Password)
	require.Equal(t, "pstn.in1.exotel.com", c.SIPHost)
	require.Equal(t, "tcp", c.Transport)

	found, err := db.FindTrunk(ctx, tenant, "ST_exo")
	require.NoError(t, err)
	require.Nil(t, found.SIP, "the API's trunk look-up carries no SIP secrets")

	_, err = db.SIPTrunkConfig(ctx, "ST_nope")
	require.Equal(t, dialq.ENOTFOUND, dialq.ErrorCode(err))

	bad := *tr
	bad.SIP = &dialq.SIPTrunkConfig{Transport: "tls"}
	require.Equal(t, dialq.EINVALID, dialq.ErrorCode(db.SaveTrunk(ctx, &bad)))

	// Only a provider dialq's bridge dials takes SIP settings.
	twilio := *tr
	twilio.ID, twilio.Provider, twilio.LiveKitTrunkID = "ST_tw", dialq.ServiceTwilio, "ST_tw"
	require.Equal(t, dialq.EINVALID, dialq.ErrorCode(db.SaveTrunk(ctx, &twilio)))
}
