package relay

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Config describes one bridged call: where the room is and who the phone
// participant is.
type Config struct {
	// LiveKitURL, APIKey and APISecret reach livekit-server; the URL may be
	// http(s) or ws(s).
	LiveKitURL, APIKey, APISecret string

	// Room is the call's room.
	Room string
	// Identity is the phone participant's identity, "phone-<E.164>" (see
	// dialq.ParticipantIdentityFor).
	Identity string
	// PhoneNumber is the number dialed, in E.164; it is the participant's
	// name and its sip.phoneNumber attribute.
	PhoneNumber string
	// TrunkPhoneNumber is the number the call comes from (the Exotel
	// virtual number), published as sip.trunkPhoneNumber when set.
	TrunkPhoneNumber string
	// TrunkID is dialq's id of the trunk the call goes out on (ST_...),
	// published as sip.trunkID when set, as livekit-sip publishes the
	// LiveKit trunk's.
	TrunkID string
	// SIPHost is the carrier's SIP host the INVITE goes to, published as
	// sip.hostname when set, as livekit-sip publishes its trunk's address.
	SIPHost string
	// CallID is dialq's call id, published as the dialq.callID attribute
	// (as on calls dialed through a LiveKit trunk) and logged as call_id.
	CallID string

	// Log receives the session's lines; New adds call_id and room to it.
	// Nil logs to slog.Default().
	Log *slog.Logger

	// NoRTPTimeout ends an answered call whose phone has sent no RTP for this
	// long (reason ReasonNoRTP): the far end is gone without a BYE. Time on
	// hold does not count. Zero disables the check.
	NoRTPTimeout time.Duration
	// MaxDuration ends a call this long after its answer (reason
	// ReasonMaxDuration). Zero means no limit.
	MaxDuration time.Duration

	// Ringtone plays a ringback tone on the phone's track from the first
	// Ringing until the answer (or the end), for the room to hear the
	// phone ring, as livekit-sip's play_dialtone does.
	Ringtone bool
	// OnAlone, when set, is called instead of ending the call (reason
	// ReasonAgentLeft) when everyone but phones has left the room: the
	// caller keeps calls whose agent leaves, and decides what then. It runs
	// on the SDK's callback goroutine and must not block; it may be called
	// again for the same leaving (after a reconnection to livekit-server).
	OnAlone func()
}

// validate names every required field that is missing.
func (c Config) validate() error {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"LiveKitURL", c.LiveKitURL},
		{"APIKey", c.APIKey},
		{"APISecret", c.APISecret},
		{"Room", c.Room},
		{"Identity", c.Identity},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("relay config: %s required", strings.Join(missing, ", "))
	}
	if c.NoRTPTimeout < 0 || c.MaxDuration < 0 {
		return errors.New("relay config: NoRTPTimeout and MaxDuration must not be negative")
	}
	return nil
}
