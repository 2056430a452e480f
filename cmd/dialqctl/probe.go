package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// probe GETs each URL and fails unless every one answers 2xx in time. It is
// the images' health check: they are Debian slim, with no curl to run one.
func probe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("probe", flag.ExitOnError)
	timeout := fs.Duration("timeout", 2*time.Second, "how long each URL may take to answer")
	fs.Parse(args)
	if fs.NArg() == 0 {
		return fmt.Errorf("probe: give at least one URL, such as http://127.0.0.1:8080/healthz")
	}
	client := &http.Client{Timeout: *timeout}
	for _, u := range fs.Args() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("probe %s: %w", u, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return fmt.Errorf("probe %s: answered %s", u, resp.Status)
		}
	}
	return nil
}
