package main

import (
	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/envconf"
)

// loadConfig reads the api's config and log level from the environment and
// says which variable is wrong.
func loadConfig() (app.APIConfig, string, error) {
	return readConfig(envconf.New())
}

// readConfig is app.ReadAPIConfig: the one reader of the api's variables,
// which its -h and the README's table are made of.
func readConfig(l *envconf.Loader) (app.APIConfig, string, error) {
	return app.ReadAPIConfig(l)
}
