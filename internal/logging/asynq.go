package logging

import (
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"
)

// Asynq routes asynq's own log lines into log, marked source=asynq.
func Asynq(log *slog.Logger) asynq.Logger { return asynqLogger{log} }

type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...), "source", "asynq") }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...), "source", "asynq") }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...), "source", "asynq") }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...), "source", "asynq") }
func (l asynqLogger) Fatal(args ...any) {
	l.log.Error(fmt.Sprint(args...), "source", "asynq", "fatal", true)
}
