package dialq

import (
	"fmt"
	"regexp"
)

// SIPProfile is what one SIP carrier expects of dialq's own SIP bridge
// beyond SIP itself: where it listens unless a trunk says otherwise, how it
// wants the callee and the caller ID written, and the name failure messages
// give it. Carriers that take calls only from a fixed IP (Exotel, Plivo,
// Telnyx, a customer's SBC) differ in these and nothing else the bridge
// does, so each is a SIPProfile value rather than a fork of the bridge.
type SIPProfile struct {
	// Name is the carrier as users read it, e.g. in "Exotel did not answer
	// the INVITE".
	Name string
	// Host, Port and Transport ("tcp" or "udp") are what a trunk gets when
	// its SIPTrunkConfig leaves them empty. Host "" means every trunk must
	// name its own.
	Host      string
	Port      int
	Transport string
	// Number writes a callee, given in E.164 form, as the user part of the
	// INVITE's Request-URI and To. Required; see DialledNumber.
	Number func(e164 string) string
	// CallerID puts a trunk's caller ID in the form the carrier wants in
	// From, and reports whether the carrier takes it. Required.
	CallerID func(id string) (string, bool)
	// CallerIDRule says what CallerID takes, as the message of a caller_id
	// field it refuses ("must be ...").
	CallerIDRule string
}

// sipProfiles are the call services dialq's SIP bridge dials.
var sipProfiles = map[CallService]SIPProfile{
	ServiceExotel: Exotel,
}

// SIPProfileFor returns the profile of a call service dialq's SIP bridge
// dials, and false for one it does not (twilio goes through LiveKit).
func SIPProfileFor(s CallService) (SIPProfile, bool) {
	p, ok := sipProfiles[s]
	return p, ok
}

// dialledE164 is the E.164 form a callee must have to be dialled: '+' and 7
// to 15 digits. The request rules (checkE164) are stricter; this is the
// bridge's own guard.
var dialledE164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// DialledNumber is the user part of the Request-URI for number, written as
// p.Number writes it. It returns an error unless number is '+' followed by
// 7 to 15 digits.
func (p SIPProfile) DialledNumber(number string) (string, error) {
	if !dialledE164.MatchString(number) {
		return "", fmt.Errorf("number %q is not in E.164 form (+ and 7 to 15 digits)", number)
	}
	return p.Number(number), nil
}
