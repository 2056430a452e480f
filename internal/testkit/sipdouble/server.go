package sipdouble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/proto"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/utils/xtwirp"
	"github.com/livekit/server-sdk-go/v2/signalling"
)

// Server is the SIP service double: an http.Handler serving LiveKit's twirp
// SIP API. Create it with New; run it with Serve (or mount it on a mux of
// your own); stop it with Close.
type Server struct {
	cfg      Config
	log      *slog.Logger
	wsURL    string
	keys     auth.KeyProvider
	upstream livekit.SIP
	handler  http.Handler

	mu       sync.Mutex
	closed   bool
	requests []*livekit.CreateSIPParticipantRequest
	calls    []*call
	servers  []*http.Server
	running  sync.WaitGroup // goroutines of calls that outlive their request
}

// New returns a Server for cfg. It does not contact livekit-server: a
// livekit-server that is down shows up as errors of the calls made later.
// Returns an error if cfg lacks LiveKitURL, APIKey or APISecret.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		log:   cfg.Logger,
		wsURL: signalling.ToWebsocketURL(cfg.LiveKitURL),
		keys:  auth.NewSimpleKeyProvider(cfg.APIKey, cfg.APISecret),
	}
	s.upstream = livekit.NewSIPProtobufClient(
		signalling.ToHttpURL(cfg.LiveKitURL),
		&http.Client{},
		append([]twirp.ClientOption{forwardToken()}, xtwirp.DefaultClientOptions()...)...,
	)
	twirpServer := livekit.NewSIPServer(&sipService{SIP: s.upstream, s: s}, xtwirp.ServerPassTimeout(), xtwirp.ServerPassErrorDetails())
	mux := http.NewServeMux()
	xtwirp.RegisterServer(mux, twirpServer)
	s.handler = authenticate(s.keys, mux)
	return s, nil
}

// ServeHTTP answers one request of the twirp SIP API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// Listen opens a TCP listener on addr, which must name a loopback host
// (127.0.0.1, ::1 or localhost) with a port; port 0 picks a free one. The
// double is for local use only, so any other address is refused.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sipdouble: listen address %q: %w", addr, err)
	}
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("sipdouble: listen address %q is not a loopback address", addr)
		}
	}
	return net.Listen("tcp", addr)
}

// Serve answers requests arriving on l until Close, then returns nil. Any
// other error of the listener is returned as is.
func (s *Server) Serve(l net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = l.Close()
		return nil
	}
	s.servers = append(s.servers, hs)
	s.mu.Unlock()
	s.log.Info("sip double serving", "addr", l.Addr().String(), "livekit_url", s.cfg.LiveKitURL)
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Requests returns a copy of every CreateSIPParticipant request the double
// received with a token carrying the SIP call grant, in arrival order,
// including the ones it then refused (invalid request, unknown trunk). Tests
// count dials with it.
func (s *Server) Requests() []*livekit.CreateSIPParticipantRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*livekit.CreateSIPParticipantRequest, len(s.requests))
	for i, r := range s.requests {
		out[i] = proto.Clone(r).(*livekit.CreateSIPParticipantRequest)
	}
	return out
}

// Calls returns a snapshot of every call the double placed (every request
// whose phone participant joined the room), in order.
func (s *Server) Calls() []CallInfo {
	s.mu.Lock()
	calls := append([]*call(nil), s.calls...)
	s.mu.Unlock()
	out := make([]CallInfo, len(calls))
	for i, c := range calls {
		out[i] = c.snapshot()
	}
	return out
}

// Close hangs up every phone still in a room (a call still ringing fails as
// unanswered), stops Serve and waits for the calls' goroutines. Requests that
// arrive afterwards fail with twirp unavailable. Close is idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	calls := append([]*call(nil), s.calls...)
	servers := s.servers
	s.mu.Unlock()

	for _, c := range calls {
		c.shutdown()
	}
	var errs []error
	for _, hs := range servers {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, hs.Close())
		}
		cancel()
	}
	s.running.Wait()
	return errors.Join(errs...)
}

// record keeps a copy of req for Requests.
func (s *Server) record(req *livekit.CreateSIPParticipantRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, proto.Clone(req).(*livekit.CreateSIPParticipantRequest))
}

// track registers c, or reports false if the Server is closed.
func (s *Server) track(c *call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.calls = append(s.calls, c)
	s.running.Add(1)
	return true
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
