package main

import (
	"fmt"
	"log/slog"
)

// asynqLogger routes asynq's own log lines into slog.
type asynqLogger struct{ log *slog.Logger }

func (l asynqLogger) Debug(args ...any) { l.log.Debug(fmt.Sprint(args...), "source", "asynq") }
func (l asynqLogger) Info(args ...any)  { l.log.Info(fmt.Sprint(args...), "source", "asynq") }
func (l asynqLogger) Warn(args ...any)  { l.log.Warn(fmt.Sprint(args...), "source", "asynq") }
func (l asynqLogger) Error(args ...any) { l.log.Error(fmt.Sprint(args...), "source", "asynq") }
func (l asynqLogger) Fatal(args ...any) {
	l.log.Error(fmt.Sprint(args...), "source", "asynq", "fatal", true)
}
