package logging

import (
	"context"
	"log/slog"

	"github.com/go-logr/logr"

	protologger "github.com/livekit/protocol/logger"
)

// LiveKitSDK sends the warnings and errors of the LiveKit SDK (rooms,
// tracks, codecs) to log. Its info logs are left out: they are per-packet
// chatter, and one of them prints the join token.
func LiveKitSDK(log *slog.Logger) protologger.Logger {
	return protologger.LogRLogger(logr.FromSlogHandler(warnAndAbove{log.Handler()}))
}

// warnAndAbove drops records below slog.LevelWarn.
type warnAndAbove struct{ slog.Handler }

func (h warnAndAbove) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h warnAndAbove) WithAttrs(attrs []slog.Attr) slog.Handler {
	return warnAndAbove{h.Handler.WithAttrs(attrs)}
}

func (h warnAndAbove) WithGroup(name string) slog.Handler {
	return warnAndAbove{h.Handler.WithGroup(name)}
}
