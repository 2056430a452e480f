// Package logging builds the slog logger every dialq binary logs with.
package logging

import (
	"io"
	"log/slog"
	"strings"
)

// New returns a JSON logger at level ("debug", "info", "warn", "error").
// Durations are written as Go writes them ("2m0s", "1.5s"), not as the
// nanosecond integers slog's JSON handler would print: people read these
// lines.
func New(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: readableDuration}))
}

// readableDuration writes a time.Duration value as its String form. slog
// calls it for every attribute, inside groups too, with the value resolved.
func readableDuration(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}
