package sipdouble

import (
	"errors"
	"log/slog"
	"net/url"
	"time"
)

// Defaults for the zero values of Config.
const (
	// DefaultRingingTimeout is the ring window of a request without
	// RingingTimeout. The SDK pins 30 s on requests that wait for the answer
	// and documents it as the server default.
	DefaultRingingTimeout = 30 * time.Second
	// DefaultInviteDelay is the time from the participant joining the room to
	// the callee's first response: the INVITE's trip through the carrier.
	DefaultInviteDelay = 500 * time.Millisecond
	// maxCallDuration is livekit-sip's cap on a call's length.
	maxCallDuration = 24 * time.Hour
)

// Config configures a Server.
type Config struct {
	// LiveKitURL is the livekit-server the phone participants join and the
	// trunk APIs are proxied to: http(s):// or ws(s)://, e.g.
	// http://127.0.0.1:57880. Required.
	LiveKitURL string
	// APIKey and APISecret verify the tokens of incoming requests and sign
	// the double's own tokens (phone participants, trunk look-ups); they must
	// be a key pair livekit-server knows. Required.
	APIKey    string
	APISecret string
	// Script decides what the callee does with each call. Nil means
	// DefaultScript.
	Script Script
	// DefaultRingingTimeout replaces DefaultRingingTimeout when positive.
	DefaultRingingTimeout time.Duration
	// InviteDelay replaces DefaultInviteDelay when positive.
	InviteDelay time.Duration
	// Logger receives the double's logs and the warnings of the LiveKit SDK
	// rooms it opens. Nil discards them.
	Logger *slog.Logger
	// SkipRoom answers calls without bringing the phone participant into
	// the room: no WebRTC session per call, so a load test can place
	// hundreds of calls a second on a small machine. The participant id it
	// returns is made up (PA_...), no sip.callStatus attribute is published
	// and nobody appears in the room. Off by default: tests and the phone
	// simulator want the room to look as it does with a real call.
	SkipRoom bool
}

// withDefaults validates cfg and fills in its zero values.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.LiveKitURL == "" {
		return cfg, errors.New("sipdouble: LiveKitURL is required")
	}
	u, err := url.Parse(cfg.LiveKitURL)
	if err != nil || u.Host == "" {
		return cfg, errors.New("sipdouble: LiveKitURL must be an absolute http(s) or ws(s) URL, got " + cfg.LiveKitURL)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return cfg, errors.New("sipdouble: LiveKitURL must be an absolute http(s) or ws(s) URL, got " + cfg.LiveKitURL)
	}
	if cfg.APIKey == "" || cfg.APISecret == "" {
		return cfg, errors.New("sipdouble: APIKey and APISecret are required")
	}
	if cfg.Script == nil {
		cfg.Script = DefaultScript
	}
	if cfg.DefaultRingingTimeout <= 0 {
		cfg.DefaultRingingTimeout = DefaultRingingTimeout
	}
	if cfg.InviteDelay <= 0 {
		cfg.InviteDelay = DefaultInviteDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}
