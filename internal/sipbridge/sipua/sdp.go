package sipua

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Payload types dialq offers, in order of preference. Exotel's media servers
// speak G.711 only, so there is nothing to transcode beyond that.
const (
	payloadPCMU  uint8 = 0
	payloadPCMA  uint8 = 8
	payloadDTMF  uint8 = 101
	ptimeMillis        = 20
	sdpUser            = "dialq"
	sdpClockRate       = 8000
)

// Media directions as SDP writes them (RFC 3264).
const (
	SendRecv = "sendrecv"
	SendOnly = "sendonly"
	RecvOnly = "recvonly"
	Inactive = "inactive"
)

// Offer is what dialq puts in the INVITE's SDP: where the carrier should send
// RTP.
// The codecs are fixed: PCMU (0), PCMA (8) and telephone-event (101) at
// 8000 Hz, 20 ms packets.
type Offer struct {
	// MediaIP is the IPv4 address the carrier sends RTP to (the trunk's
	// MediaIP).
	MediaIP string
	// RTPPort is the local RTP port, already bound by the caller.
	RTPPort int
}

// Answer is what the far end's SDP says about its side of the media: where to
// send RTP, in which codec, and whether it will send and receive.
type Answer struct {
	RemoteIP   string
	RemotePort int
	// PayloadType is 0 (PCMU) or 8 (PCMA): the first G.711 codec in the far
	// end's list, which is the one both sides use.
	PayloadType uint8
	// Codec is "PCMU" or "PCMA".
	Codec string
	// DTMFPayloadType is the far end's telephone-event payload type, or -1
	// when it offers none.
	DTMFPayloadType int
	// Direction is the far end's own direction: sendonly means it sends but
	// does not listen, which is how a carrier puts the call on hold.
	Direction string
}

// OnHold reports whether the far end stopped listening: a=sendonly or
// a=inactive, or the older c=0.0.0.0 form of hold (RFC 2543).
func (a Answer) OnHold() bool {
	return a.Direction == SendOnly || a.Direction == Inactive || a.RemoteIP == "0.0.0.0"
}

// mirror is the direction to answer with when the far end says d.
func mirror(d string) string {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	case Inactive:
		return Inactive
	}
	return SendRecv
}

// validate reports what is wrong with the offer, naming the field.
func (o Offer) validate() error {
	ip := net.ParseIP(o.MediaIP)
	if ip == nil || ip.To4() == nil {
		return fmt.Errorf("offer media IP %q must be an IPv4 address", o.MediaIP)
	}
	if o.RTPPort < 1 || o.RTPPort > 65535 {
		return fmt.Errorf("offer RTP port %d must be 1 to 65535", o.RTPPort)
	}
	return nil
}

// sdpSession writes the SDP bodies of one call. The origin's session id
// stays the same for the whole call and its version goes up with every
// body, as RFC 3264 section 8 asks.
type sdpSession struct {
	offer   Offer
	id      uint64
	version uint64
}

// initialOffer is the INVITE body: every codec dialq speaks, sendrecv.
func (s *sdpSession) initialOffer() []byte {
	return s.body([]uint8{payloadPCMU, payloadPCMA}, int(payloadDTMF), SendRecv)
}

// answerTo is the body answering the far end's re-INVITE offer a: its codec
// and its telephone-event payload type, and the mirror of its direction.
func (s *sdpSession) answerTo(a Answer) []byte {
	return s.body([]uint8{a.PayloadType}, a.DTMFPayloadType, mirror(a.Direction))
}

func (s *sdpSession) body(audio []uint8, dtmf int, direction string) []byte {
	s.version++
	formats := make([]string, 0, len(audio)+1)
	attrs := make([]sdp.Attribute, 0, len(audio)+4)
	for _, pt := range audio {
		formats = append(formats, strconv.Itoa(int(pt)))
		attrs = append(attrs, sdp.NewAttribute("rtpmap", fmt.Sprintf("%d %s/%d", pt, codecName(pt), sdpClockRate)))
	}
	if dtmf >= 0 {
		formats = append(formats, strconv.Itoa(dtmf))
		attrs = append(attrs,
			sdp.NewAttribute("rtpmap", fmt.Sprintf("%d telephone-event/%d", dtmf, sdpClockRate)),
			sdp.NewAttribute("fmtp", fmt.Sprintf("%d 0-16", dtmf)))
	}
	attrs = append(attrs,
		sdp.NewAttribute("ptime", strconv.Itoa(ptimeMillis)),
		sdp.NewPropertyAttribute(direction))

	conn := &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: s.offer.MediaIP}}
	d := sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: sdpUser, SessionID: s.id, SessionVersion: s.version,
			NetworkType: "IN", AddressType: "IP4", UnicastAddress: s.offer.MediaIP,
		},
		SessionName:           sdp.SessionName(sdpUser),
		ConnectionInformation: conn,
		TimeDescriptions:      []sdp.TimeDescription{{}},
		MediaDescriptions: []*sdp.MediaDescription{{
			MediaName: sdp.MediaName{
				Media:   "audio",
				Port:    sdp.RangedPort{Value: s.offer.RTPPort},
				Protos:  []string{"RTP", "AVP"},
				Formats: formats,
			},
			Attributes: attrs,
		}},
	}
	b, _ := d.Marshal() // pion/sdp's Marshal has no failing path
	return b
}

func codecName(pt uint8) string {
	if pt == payloadPCMA {
		return "PCMA"
	}
	return "PCMU"
}

var errNoAudio = errors.New("no G.711 audio stream")

// parseAnswer reads the far end's SDP: its first audio stream with a
// non-zero port, the first PCMU or PCMA payload type in its list, its
// telephone-event payload type and its direction. It returns an error
// wrapping errNoAudio when there is nothing dialq can talk to.
func parseAnswer(body []byte) (Answer, error) {
	if len(body) == 0 {
		return Answer{}, fmt.Errorf("empty SDP: %w", errNoAudio)
	}
	var d sdp.SessionDescription
	if err := d.Unmarshal(body); err != nil {
		return Answer{}, fmt.Errorf("parse SDP: %w", err)
	}
	var audio *sdp.MediaDescription
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media == "audio" && m.MediaName.Port.Value != 0 {
			audio = m
			break
		}
	}
	if audio == nil {
		return Answer{}, fmt.Errorf("SDP has no active audio stream: %w", errNoAudio)
	}
	conn := audio.ConnectionInformation
	if conn == nil {
		conn = d.ConnectionInformation
	}
	if conn == nil || conn.Address == nil || net.ParseIP(conn.Address.Address) == nil {
		return Answer{}, fmt.Errorf("SDP has no connection address for audio: %w", errNoAudio)
	}

	a := Answer{
		RemoteIP:        conn.Address.Address,
		RemotePort:      audio.MediaName.Port.Value,
		DTMFPayloadType: -1,
		Direction:       direction(&d, audio),
	}
	codecs := d.GetCodecMap()
	for _, f := range audio.MediaName.Formats {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil {
			continue
		}
		pt := uint8(n)
		c, ok := codecs[pt]
		if !ok || c.ClockRate != sdpClockRate {
			continue
		}
		name := strings.ToUpper(c.Name)
		switch {
		case a.Codec == "" && (name == "PCMU" || name == "PCMA"):
			a.PayloadType, a.Codec = pt, name
		case name == "TELEPHONE-EVENT" && a.DTMFPayloadType < 0:
			a.DTMFPayloadType = int(pt)
		}
	}
	if a.Codec == "" {
		return Answer{}, fmt.Errorf("SDP offers %v, neither PCMU nor PCMA: %w", audio.MediaName.Formats, errNoAudio)
	}
	return a, nil
}

// direction is the stream's direction attribute, else the session's, else
// sendrecv (RFC 3264 section 5.1).
func direction(d *sdp.SessionDescription, m *sdp.MediaDescription) string {
	dirs := []string{SendRecv, SendOnly, RecvOnly, Inactive}
	for _, dir := range dirs {
		if _, ok := m.Attribute(dir); ok {
			return dir
		}
	}
	for _, dir := range dirs {
		if _, ok := d.Attribute(dir); ok {
			return dir
		}
	}
	return SendRecv
}
