package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/dialq/dialq/internal/health"
	"github.com/dialq/dialq/internal/metrics"
)

// opsServer is the worker's own small HTTP server (DIALQ_WORKER_HTTP_ADDR):
// /metrics, /healthz and /readyz, the API's same three, for a process that
// serves no API.
type opsServer struct {
	ln  net.Listener
	srv *http.Server
	log *slog.Logger
}

// newOpsServer binds addr now, so a taken port fails the start, not a probe.
func newOpsServer(addr string, m *metrics.Metrics, ready *health.Checker, log *slog.Logger) (*opsServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (DIALQ_WORKER_HTTP_ADDR): %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", health.Alive)
	mux.Handle("GET /readyz", ready)
	return &opsServer{ln: ln, log: log, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}}, nil
}

// URL is where the server answers, e.g. http://127.0.0.1:9091.
func (o *opsServer) URL() string { return "http://" + o.ln.Addr().String() }

// start serves until close.
func (o *opsServer) start() {
	go func() {
		if err := o.srv.Serve(o.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			o.log.Error("worker's HTTP server stopped", "err", err)
		}
	}()
	o.log.Info("worker HTTP listening", "addr", o.ln.Addr().String(), "paths", "/metrics /healthz /readyz")
}

// close stops serving at once: what it serves is read again by the next
// scrape or probe, of another process.
func (o *opsServer) close() {
	o.srv.Close()
	o.ln.Close()
}
