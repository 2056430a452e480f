package dialq

import (
	"regexp"
	"strings"
)

// Exotel is the profile of Exotel, India's cloud telephony carrier, as its
// SIP trunks want it: TCP to pstn.in1.exotel.com:5070, Indian numbers in
// national form both in the Request-URI and in the caller ID.
var Exotel = SIPProfile{
	Name:         "Exotel",
	Host:         "pstn.in1.exotel.com",
	Port:         5070,
	Transport:    "tcp",
	Number:       exotelNumber,
	CallerID:     exotelCallerID,
	CallerIDRule: "must be the Exotel number in national form, 0 then digits (e.g. 08044319240)",
}

// exotelNumber writes a callee the way Exotel wants it dialled: an Indian
// number (+91) in national form with a leading 0 (+918044319240 →
// 08044319240), any other number as its E.164 digits without the '+'
// (+14155550100 → 14155550100).
func exotelNumber(e164 string) string {
	if national, ok := strings.CutPrefix(e164, "+91"); ok {
		return "0" + national
	}
	return strings.TrimPrefix(e164, "+")
}

var nationalNumber = regexp.MustCompile(`^0[0-9]{6,14}$`)

// exotelCallerID takes an Exotel virtual number in national form
// (08044319240), or as +91 and the national number, which it puts in
// national form: Exotel refuses any other From.
func exotelCallerID(id string) (string, bool) {
	if rest, ok := strings.CutPrefix(id, "+91"); ok {
		id = "0" + rest
	}
	return id, nationalNumber.MatchString(id)
}
