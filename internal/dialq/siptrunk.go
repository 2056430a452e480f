package dialq

import (
	"fmt"
	"net"
	"strings"
)

// SIPTrunkConfig is how dialq's SIP bridge reaches a carrier for one trunk.
// The carrier (Exotel) only takes SIP from allow-listed addresses, so dialq
// dials it itself instead of through a LiveKit trunk; what is particular to
// the carrier is its SIPProfile. It is stored as JSON, so its keys are kept
// as they are.
type SIPTrunkConfig struct {
	SIPHost   string `json:"sip_host"`
	SIPPort   int    `json:"sip_port"`
	Transport string `json:"transport"` // tcp or udp
	// FromDomain is the host part of the From header; defaults to SIPHost.
	FromDomain string `json:"from_domain"`
	// CallerID is the trunk's number, in the form the carrier expects in
	// the From user part (Exotel: its virtual number, national 0XXXXXXXXXX).
	CallerID string `json:"caller_id"`
	Username string `json:"username"`
	// Password answers the carrier's digest challenge. It is sealed at
	// rest, never logged and never returned by the API.
	Password string `json:"-"`
	// MediaIP is the public address put in the SDP for the carrier to send
	// RTP to.
	MediaIP    string `json:"media_ip"`
	RTPPortMin int    `json:"rtp_port_min"`
	RTPPortMax int    `json:"rtp_port_max"`
}

// String describes the config without its password.
func (c SIPTrunkConfig) String() string {
	return fmt.Sprintf("%s://%s:%d as %s (user %s, media %s:%d-%d)",
		c.Transport, c.SIPHost, c.SIPPort, c.CallerID, c.Username, c.MediaIP, c.RTPPortMin, c.RTPPortMax)
}

// Normalize fills the defaults of carrier p (host, port, transport; the From
// domain is the SIP host) and puts the caller ID in p's form. It returns an
// EINVALID error naming every bad field.
func (c *SIPTrunkConfig) Normalize(p SIPProfile) error {
	if c.SIPHost == "" {
		c.SIPHost = p.Host
	}
	if c.SIPPort == 0 {
		c.SIPPort = p.Port
	}
	c.Transport = strings.ToLower(c.Transport)
	if c.Transport == "" {
		c.Transport = p.Transport
	}
	if c.FromDomain == "" {
		c.FromDomain = c.SIPHost
	}
	var callerOK bool
	c.CallerID, callerOK = p.CallerID(c.CallerID)
	var fields []FieldError
	bad := func(field, msg string) { fields = append(fields, FieldError{Field: field, Message: msg}) }
	if c.SIPHost == "" {
		bad("sip_host", "is required")
	}
	if c.SIPPort < 1 || c.SIPPort > 65535 {
		bad("sip_port", "must be 1 to 65535")
	}
	if c.Transport != "tcp" && c.Transport != "udp" {
		bad("transport", "must be tcp or udp")
	}
	if !callerOK {
		bad("caller_id", p.CallerIDRule)
	}
	if c.Username == "" {
		bad("username", "is required")
	}
	if ip := net.ParseIP(c.MediaIP); ip == nil {
		bad("media_ip", "must be the IP address "+p.Name+" sends RTP to")
	}
	if c.RTPPortMin < 1024 || c.RTPPortMax > 65535 || c.RTPPortMin > c.RTPPortMax || (c.RTPPortMax-c.RTPPortMin) < 1 {
		bad("rtp_port_min", "and rtp_port_max must be a range of at least 2 ports within 1024-65535")
	}
	if len(fields) > 0 {
		return &Error{Code: EINVALID, Message: invalidMessage(fields), Fields: fields}
	}
	return nil
}
