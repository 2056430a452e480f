package main

import (
	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/envconf"
)

// The readers of dialqctl's variables: every command reads its settings
// through one of them, and ctlBinary runs them all, so that dialqctl -h and
// the README's table list what the commands read.

// readDatabaseURL reads DATABASE_URL.
func readDatabaseURL(l *envconf.Loader) string { return l.Required("DATABASE_URL") }

// readSecretKey reads DIALQ_SECRET_KEY, which opens and seals the trunks'
// SIP passwords.
func readSecretKey(l *envconf.Loader) string { return l.String("DIALQ_SECRET_KEY", "") }

// readExotelPassword reads save-trunk's DIALQ_EXOTEL_PASSWORD: from the
// environment, not a flag, so it stays out of shell history and process
// lists.
func readExotelPassword(l *envconf.Loader) string { return l.String("DIALQ_EXOTEL_PASSWORD", "") }

// seedEnv is what seed-demo reads.
type seedEnv struct {
	DatabaseURL, LiveKitURL, LiveKitKey, LiveKitSecret, SIPURL, APIURL, RedisAddr string
}

func readSeedEnv(l *envconf.Loader) seedEnv {
	e := seedEnv{DatabaseURL: readDatabaseURL(l), LiveKitURL: l.Required("LIVEKIT_URL"),
		LiveKitKey: l.Required("LIVEKIT_API_KEY"), LiveKitSecret: l.Required("LIVEKIT_API_SECRET")}
	if e.SIPURL = l.String("LIVEKIT_SIP_URL", ""); e.SIPURL == "" {
		e.SIPURL = e.LiveKitURL
	}
	e.APIURL = l.String("DIALQ_API_URL", "http://127.0.0.1:58080")
	e.RedisAddr = app.ReadRedis(l).Addr
	return e
}

// readCallsConfig reads what the calls service needs, by the API's readers:
// the same queue and channels as the API.
func readCallsConfig(l *envconf.Loader) app.APIConfig {
	cfg := app.APIConfig{Redis: app.ReadRedis(l), Channels: app.ReadChannels(l), Dial: app.ReadDial(l)}
	cfg.DatabaseURL = readDatabaseURL(l)
	cfg.DBMaxConns = 2
	return cfg
}

// ctlBinary is dialqctl's config reader: every reader above.
var ctlBinary = envconf.Binary{Name: "dialqctl",
	Summary: "dialqctl administers dialq: migrations, tenants, API keys, assistants, trunks, the demo seed; places, lists and hangs up calls.",
	Read: func(l *envconf.Loader) {
		readDatabaseURL(l)
		readSecretKey(l)
		readExotelPassword(l)
		readSeedEnv(l)
		readCallsConfig(l)
	}}
