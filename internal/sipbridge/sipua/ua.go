package sipua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Config is how the UA listens and presents itself.
type Config struct {
	// ListenAddr is where the UA takes requests inside its dialogs (BYE,
	// re-INVITE, OPTIONS), on both TCP and UDP. UDP calls are also sent
	// from there, so in production it must be an address that reaches
	// the carrier (the machine's address or 0.0.0.0, port 5060 say), not
	// loopback. Default "127.0.0.1:0", which gives each transport its own
	// ephemeral port. Its host must be an IP address.
	ListenAddr string
	// ContactHost is the address put in Contact and Via for the carrier to
	// reach this UA. It defaults to ListenAddr's host and must be set when that
	// host is unspecified (0.0.0.0) or behind a 1:1 NAT.
	ContactHost string
	// UserAgent is the User-Agent header. Default "dialq".
	UserAgent string
	// Log receives the UA's logs. Default slog.Default().
	Log *slog.Logger
}

// How long Close waits for live calls to hang up.
const closeBudget = 5 * time.Second

// UA is one process's SIP user agent: one sipgo user agent with its client
// and server, and one TCP and one UDP listener for the requests the carrier
// sends inside a call's dialog. It is safe for concurrent use.
type UA struct {
	log       *slog.Logger
	userAgent string
	host      string // ContactHost
	sip       *sipgo.UserAgent
	client    *sipgo.Client
	tcp       net.Listener
	udp       net.PacketConn
	serving   sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	calls   map[string]*Call // the live calls, by SIP Call-ID
	dialogs map[string]*Call // by sipgo dialog id: Call-ID, our tag, their tag
}

// New starts a UA listening on cfg.ListenAddr, TCP and UDP. It returns an
// error when the address is not an IP:port, when it is unspecified and
// ContactHost is empty, or when either listener cannot bind. Close the UA
// when done.
func New(cfg Config) (*UA, error) {
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = "127.0.0.1:0"
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "dialq"
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	host, _, err := net.SplitHostPort(cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("sipua: listen address %q: %w", cfg.ListenAddr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, fmt.Errorf("sipua: listen address %q: host must be an IP address", cfg.ListenAddr)
	}
	if cfg.ContactHost == "" {
		if ip.IsUnspecified() {
			return nil, fmt.Errorf("sipua: listening on %s needs a ContactHost the carrier can reach", cfg.ListenAddr)
		}
		cfg.ContactHost = host
	}

	sipLog := cfg.Log.With("component", "sipgo")
	agent, err := sipgo.NewUA(
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentHostname(cfg.ContactHost),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			// A TCP connection to the carrier that drops fails its
			// INVITE at once instead of after Timer B.
			sip.WithTransactionLayerTerminateOnConnClose()),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog)),
	)
	if err != nil {
		return nil, fmt.Errorf("sipua: new user agent: %w", err)
	}
	client, err := sipgo.NewClient(agent,
		sipgo.WithClientHostname(cfg.ContactHost),
		sipgo.WithClientLogger(sipLog),
		sipgo.WithClientNAT())
	if err != nil {
		agent.Close()
		return nil, fmt.Errorf("sipua: new client: %w", err)
	}
	server, err := sipgo.NewServer(agent, sipgo.WithServerLogger(sipLog))
	if err != nil {
		agent.Close()
		return nil, fmt.Errorf("sipua: new server: %w", err)
	}

	ua := &UA{
		log:       cfg.Log.With("component", "sipua"),
		userAgent: cfg.UserAgent,
		host:      cfg.ContactHost,
		sip:       agent,
		client:    client,
		calls:     make(map[string]*Call),
		dialogs:   make(map[string]*Call),
	}
	// After the transaction layer's own handler, which hands each message
	// to a goroutine of its own: this one sees them in the order they came.
	agent.TransportLayer().OnMessage(ua.onWire)
	server.OnInvite(ua.onInvite)
	server.OnUpdate(ua.onUpdate)
	server.OnAck(ua.onAck)
	server.OnBye(ua.onBye)
	server.OnOptions(ua.onOptions)
	server.OnCancel(ua.onCancel)
	server.OnNoRoute(ua.onOther)

	network := "4"
	if ip.To4() == nil {
		network = "6"
	}
	if ua.tcp, err = net.Listen("tcp"+network, cfg.ListenAddr); err != nil {
		agent.Close()
		return nil, fmt.Errorf("sipua: listen tcp %s: %w", cfg.ListenAddr, err)
	}
	if ua.udp, err = net.ListenPacket("udp"+network, cfg.ListenAddr); err != nil {
		ua.tcp.Close()
		agent.Close()
		return nil, fmt.Errorf("sipua: listen udp %s: %w", cfg.ListenAddr, err)
	}
	ua.serving.Go(func() { serveErr(ua.log, "tcp", server.ServeTCP(ua.tcp)) })
	ua.serving.Go(func() { serveErr(ua.log, "udp", server.ServeUDP(ua.udp)) })
	if err := ua.awaitUDP(); err != nil {
		ua.Close()
		return nil, err
	}
	ua.log.Info("sip user agent listening", "tcp", ua.tcp.Addr().String(), "udp", ua.udp.LocalAddr().String(),
		"contact_host", cfg.ContactHost)
	return ua, nil
}

// awaitUDP waits until sipgo's transport holds the UDP listener, which it
// adds from the serving goroutine: until then a UDP INVITE would try to bind
// the listener's address a second time. sipgo offers no ready signal, so
// this polls.
func (ua *UA) awaitUDP() error {
	tp := ua.sip.TransportLayer()
	addr := ua.udp.LocalAddr().String()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(2 * time.Second)
	for {
		if c, err := tp.GetConnection("udp", addr); err == nil {
			c.TryClose() // GetConnection took a reference
			return nil
		}
		select {
		case <-tick.C:
		case <-deadline:
			return fmt.Errorf("sipua: udp listener %s not serving after 2s", addr)
		}
	}
}

func serveErr(log *slog.Logger, network string, err error) {
	if err != nil && !errors.Is(err, net.ErrClosed) {
		log.Error("sip listener stopped", "network", network, "error", err)
	}
}

// LocalAddr is the address the UA listens on for transport "tcp" or "udp".
func (ua *UA) LocalAddr(transport string) net.Addr {
	if transport == "udp" {
		return ua.udp.LocalAddr()
	}
	return ua.tcp.Addr()
}

// contact is the Contact header of calls over transport: the UA's listener,
// where the carrier sends BYE and re-INVITE.
func (ua *UA) contact(user, transport string) sip.ContactHeader {
	_, port, _ := net.SplitHostPort(ua.LocalAddr(transport).String())
	p, _ := strconv.Atoi(port)
	return sip.ContactHeader{Address: sip.Uri{
		Scheme:    "sip",
		User:      user,
		Host:      ua.host,
		Port:      p,
		UriParams: sip.HeaderParams{{K: "transport", V: transport}},
	}}
}

// udpSource is the local address UDP calls are sent from: the UDP listener,
// so that responses and in-dialog requests all arrive on one socket.
func (ua *UA) udpSource() sip.Addr {
	a := ua.udp.LocalAddr().(*net.UDPAddr)
	return sip.Addr{IP: a.IP, Port: a.Port}
}

// Close hangs up every live call (BYE if answered, CANCEL if ringing),
// waiting up to a few seconds for them, then stops listening.
func (ua *UA) Close() error {
	ua.mu.Lock()
	if ua.closed {
		ua.mu.Unlock()
		return nil
	}
	ua.closed = true
	calls := make([]*Call, 0, len(ua.calls))
	for _, c := range ua.calls {
		calls = append(calls, c)
	}
	ua.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), closeBudget)
	defer cancel()
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() {
			if err := c.hangup(ctx, "shutdown"); err != nil {
				c.log.Warn("hang up on close", "error", err)
			}
		})
	}
	wg.Wait()

	err := errors.Join(ua.tcp.Close(), ua.udp.Close())
	ua.serving.Wait()
	return errors.Join(err, ua.sip.Close())
}

// track registers a new call; it fails once the UA is closed.
func (ua *UA) track(c *Call) error {
	ua.mu.Lock()
	defer ua.mu.Unlock()
	if ua.closed {
		return ErrClosed
	}
	ua.calls[c.callID] = c
	return nil
}

// bindDialog routes requests of dialog id to c from now on.
func (ua *UA) bindDialog(id string, c *Call) {
	ua.mu.Lock()
	ua.dialogs[id] = c
	ua.mu.Unlock()
}

// forget drops c and its dialog once it has ended.
func (ua *UA) forget(c *Call, dialogID string) {
	ua.mu.Lock()
	if ua.calls[c.callID] == c {
		delete(ua.calls, c.callID)
	}
	if dialogID != "" && ua.dialogs[dialogID] == c {
		delete(ua.dialogs, dialogID)
	}
	ua.mu.Unlock()
}

// onWire sees every SIP message as the transport reads it, in the order
// each connection delivered them, and tells a dialing call about the
// responses to its INVITE (see Call.wireResponse). It runs on the
// transport's read loop: it must not block.
func (ua *UA) onWire(msg sip.Message) {
	res, ok := msg.(*sip.Response)
	if !ok {
		return
	}
	cseq, id := res.CSeq(), res.CallID()
	if cseq == nil || id == nil || cseq.MethodName != sip.INVITE {
		return
	}
	ua.mu.Lock()
	c := ua.calls[id.Value()]
	ua.mu.Unlock()
	if c != nil {
		c.wireResponse(cseq.SeqNo, res.StatusCode)
	}
}

// dialogOf returns the call req belongs to, or nil.
func (ua *UA) dialogOf(req *sip.Request) *Call {
	id, err := sip.DialogIDFromRequestUAC(req)
	if err != nil {
		return nil
	}
	ua.mu.Lock()
	defer ua.mu.Unlock()
	return ua.dialogs[id]
}

// allowed is the Allow header: what the UA answers inside a call.
var allowed = sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE")

// respond answers req, logging what cannot be sent.
func (ua *UA) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		ua.log.Warn("send response", "method", req.Method.String(), "code", code, "error", err)
	}
}

// onInvite takes re-INVITEs of live calls. dialq takes no incoming calls.
func (ua *UA) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if c := ua.dialogOf(req); c != nil {
		c.onOffer(req, tx)
		return
	}
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
			return
		}
	}
	ua.respond(tx, req, 403, "Forbidden")
}

// onUpdate takes UPDATEs (session refreshes and media changes) of live calls.
func (ua *UA) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	if c := ua.dialogOf(req); c != nil {
		c.onOffer(req, tx)
		return
	}
	ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

// onAck takes ACKs of our 200s to re-INVITEs; an ACK gets no response.
func (ua *UA) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if c := ua.dialogOf(req); c != nil {
		c.onAck(req)
	}
}

func (ua *UA) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if c := ua.dialogOf(req); c != nil {
		c.onBye(req, tx)
		return
	}
	ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

// onOptions answers keep-alive pings, inside a dialog or not.
func (ua *UA) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	ua.respond(tx, req, 200, "OK", allowed, sip.NewHeader("Accept", "application/sdp"))
}

// onCancel gets only CANCELs matching no transaction: dialq has no
// incoming INVITE to cancel.
func (ua *UA) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	ua.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

func (ua *UA) onOther(req *sip.Request, tx sip.ServerTransaction) {
	ua.respond(tx, req, 405, "Method Not Allowed", allowed)
}
