package main

import (
	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/envconf"
)

// loadConfig reads the worker's config and log level from the environment and
// says which variable is wrong.
func loadConfig() (app.WorkerConfig, string, error) {
	return readConfig(envconf.New())
}

// readConfig is app.ReadWorkerConfig: the one reader of the worker's variables,
// which its -h and the README's table are made of.
func readConfig(l *envconf.Loader) (app.WorkerConfig, string, error) {
	return app.ReadWorkerConfig(l)
}
