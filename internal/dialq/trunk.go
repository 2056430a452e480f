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
	SIP *SIPTrunkConfig `db:"-"`
	// Numbers are the trunk's caller IDs, one of which a call may ask for
	// (caller_id): E.164 for twilio trunks (the LiveKit trunk's numbers),
	// the carrier's form for the bridge's (an exotel trunk's own caller ID
	// is always one of them).
	Numbers []string `db:"-"`
	// CallLimits cap the calls dialed through the trunk, whoever's they
	// are: the carrier's own caps (docs/limits.md). Zero is no cap.
	CallLimits
	CreatedAt time.Time `db:"created_at"`
}

// Limit is the trunk's limit, false when it caps nothing.
func (t *Trunk) Limit() (Limit, bool) { return t.CallLimits.Limit(TrunkLimitKey(t.ID)) }
