package sipdouble

import (
	"time"

	"github.com/dialq/dialq/internal/envconf"
)

// PhonesimConfig is cmd/phonesim's configuration: the double as make run's
// local phone simulator, every dialled number answering alike.
type PhonesimConfig struct {
	Addr      string        // PHONESIM_ADDR: where it serves LiveKit's SIP API
	LiveKit   string        // LIVEKIT_URL: the livekit-server the phones join
	APIKey    string        // LIVEKIT_API_KEY
	APISecret string        // LIVEKIT_API_SECRET
	Ring      time.Duration // PHONESIM_RING: how long each phone rings
	Talk      time.Duration // PHONESIM_TALK: how long an answered phone stays; 0 until alone
	Answer    int           // PHONESIM_ANSWER: the SIP code every phone answers with
}

// ReadPhonesimConfig reads cmd/phonesim's configuration through l and says
// which variable is wrong; its -h and the README's table are made of it
// (PhonesimBinary).
func ReadPhonesimConfig(l *envconf.Loader) (PhonesimConfig, error) {
	c := PhonesimConfig{
		Addr:      l.String("PHONESIM_ADDR", "127.0.0.1:58090"),
		LiveKit:   l.Required("LIVEKIT_URL"),
		APIKey:    l.Required("LIVEKIT_API_KEY"),
		APISecret: l.Required("LIVEKIT_API_SECRET"),
		Ring:      l.Duration("PHONESIM_RING", time.Second),
		Talk:      l.Duration("PHONESIM_TALK", 30*time.Second),
		Answer:    l.Int("PHONESIM_ANSWER", 200),
	}
	l.Check(c.Answer == 200 || (c.Answer >= 300 && c.Answer <= 699), "PHONESIM_ANSWER",
		"must be 200 or a SIP error code 300-699, got %d", c.Answer)
	return c, l.Err()
}

// PhonesimBinary is cmd/phonesim's config reader, for its -h and dialqctl
// env-docs.
var PhonesimBinary = envconf.Binary{Name: "phonesim",
	Summary: "make run's local phone simulator: serves LiveKit's SIP API in place of LiveKit's SIP service; every dialled number rings, " +
		"answers and joins the LiveKit room as a SIP participant. It places NO real phone calls.",
	Read: func(l *envconf.Loader) { _, _ = ReadPhonesimConfig(l) }}
