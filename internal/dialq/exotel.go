package dialq

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

// ExotelConfig is how dialq's SIP bridge reaches Exotel for one trunk.
// Exotel only takes SIP from allow-listed addresses, so dialq dials it
// itself instead of through a LiveKit trunk.
type ExotelConfig struct {
	SIPHost   string `json:"sip_host"`
	SIPPort   int    `json:"sip_port"`
	Transport string `json:"transport"` // tcp or udp
	// FromDomain is the host part of the From header; defaults to SIPHost.
	FromDomain string `json:"from_domain"`
	// CallerID is the Exotel virtual number, in the national 0XXXXXXXXXX
	// form Exotel expects in the From user part.
	CallerID string `json:"caller_id"`
	Username string `json:"username"`
	// Password answers Exotel's digest challenge. It is sealed at rest,
	// never logged and never returned by the API.
	Password string `json:"-"`
	// MediaIP is the public address put in the SDP for Exotel to send RTP to.
	MediaIP    string `json:"media_ip"`
	RTPPortMin int    `json:"rtp_port_min"`
	RTPPortMax int    `json:"rtp_port_max"`
}

// Exotel's defaults.
const (
	DefaultExotelHost = "pstn.in1.exotel.com"
	DefaultExotelPort = 5070
)

var nationalNumber = regexp.MustCompile(`^0[0-9]{6,14}$`)

// String describes the config without its password.
func (c ExotelConfig) String() string {
	return fmt.Sprintf("exotel %s://%s:%d as %s (user %s, media %s:%d-%d)",
		c.Transport, c.SIPHost, c.SIPPort, c.CallerID, c.Username, c.MediaIP, c.RTPPortMin, c.RTPPortMax)
}

// Normalize fills the defaults (Exotel's host and port, TCP, From domain)
// and puts a +91 caller ID in national form. It returns an EINVALID error
// naming every bad field.
func (c *ExotelConfig) Normalize() error {
	if c.SIPHost == "" {
		c.SIPHost = DefaultExotelHost
	}
	if c.SIPPort == 0 {
		c.SIPPort = DefaultExotelPort
	}
	c.Transport = strings.ToLower(c.Transport)
	if c.Transport == "" {
		c.Transport = "tcp"
	}
	if c.FromDomain == "" {
		c.FromDomain = c.SIPHost
	}
	if rest, ok := strings.CutPrefix(c.CallerID, "+91"); ok {
		c.CallerID = "0" + rest
	}
	var fields []FieldError
	bad := func(field, msg string) { fields = append(fields, FieldError{Field: field, Message: msg}) }
	if c.SIPPort < 1 || c.SIPPort > 65535 {
		bad("sip_port", "must be 1 to 65535")
	}
	if c.Transport != "tcp" && c.Transport != "udp" {
		bad("transport", "must be tcp or udp")
	}
	if !nationalNumber.MatchString(c.CallerID) {
		bad("caller_id", "must be the Exotel number in national form, 0 then digits (e.g. 08044319240)")
	}
	if c.Username == "" {
		bad("username", "is required")
	}
	if ip := net.ParseIP(c.MediaIP); ip == nil {
		bad("media_ip", "must be the IP address Exotel sends RTP to")
	}
	if c.RTPPortMin < 1024 || c.RTPPortMax > 65535 || c.RTPPortMin > c.RTPPortMax || (c.RTPPortMax-c.RTPPortMin) < 1 {
		bad("rtp_port_min", "and rtp_port_max must be a range of at least 2 ports within 1024-65535")
	}
	if len(fields) > 0 {
		return &Error{Code: EINVALID, Message: invalidMessage(fields), Fields: fields}
	}
	return nil
}
