package dialq

import (
	"time"

	"github.com/google/uuid"
)

// Trunk is a tenant's way out to the phone network.
type Trunk struct {
	// ID is dialq's trunk id (ST_...). For a twilio trunk made through
	// LiveKit it is usually the LiveKit trunk id itself.
	ID       string      `db:"id"`
	TenantID uuid.UUID   `db:"tenant_id"`
	Name     string      `db:"name"`
	Provider CallService `db:"provider"`
	// LiveKitTrunkID is the LiveKit SIP outbound trunk that twilio calls
	// are dialed through. Empty for exotel trunks.
	LiveKitTrunkID string `db:"livekit_trunk_id"`
	// SIP is how dialq's SIP bridge dials the trunk, for a provider with a
	// SIPProfile (exotel); nil for twilio trunks, which LiveKit dials.
	SIP       *SIPTrunkConfig `db:"-"`
	CreatedAt time.Time       `db:"created_at"`
}
