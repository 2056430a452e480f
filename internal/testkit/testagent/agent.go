// Package testagent is a minimal LiveKit agent worker for tests: it registers
// with livekit-server under an agent name, accepts every job it is offered,
// joins the job's room as the agent participant and reports the job running,
// so that tests can see that dialq dispatched its voice agent (and with which
// metadata) without running a real voice agent.
//
// It speaks the agent worker protocol of livekit_agent.proto over the /agent
// websocket: binary frames, one protobuf WorkerMessage or ServerMessage each.
package testagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/livekit/server-sdk-go/v2/signalling"
)

// Config configures an Agent.
type Config struct {
	// URL is the livekit-server, http(s):// or ws(s)://. Required.
	URL string
	// APIKey and APISecret sign the worker's token. Required.
	APIKey    string
	APISecret string
	// AgentName is the name dispatches address (CreateDispatch's AgentName).
	// Required: livekit-server only sends explicit dispatches to named agents.
	AgentName string
	// Logger receives the agent's logs and the warnings of the SDK rooms it
	// joins. Nil discards them.
	Logger *slog.Logger
	// LeaveWhenAlone takes the agent out of a job's room once every other
	// participant that was in it (agents aside) has left, and reports the
	// job JS_SUCCESS: a voice agent whose callee hung up ends its job. Off,
	// the agent stays until livekit-server ends the job, Leave or Close.
	LeaveWhenAlone bool
}

// Agent is a registered agent worker. It is safe for concurrent use.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	conn     *websocket.Conn
	workerID string

	writeMu sync.Mutex // one writer at a time on conn

	mu      sync.Mutex
	jobs    []Job
	rooms   map[string]*lksdk.Room // by job id, while in the room
	arrived chan struct{}          // closed and replaced whenever a job is recorded
	closed  bool

	done    chan struct{} // the read loop ended
	readErr error
	jobsWG  sync.WaitGroup
}

// registerTimeout bounds the registration handshake when ctx has no deadline.
const registerTimeout = 10 * time.Second

// Start connects to livekit-server's /agent websocket, registers a JT_ROOM
// worker named cfg.AgentName and returns once livekit-server confirmed the
// registration. From then on the Agent takes every job it is offered until
// Close. Returns an error if cfg is incomplete, the connection is refused
// (e.g. 401 for bad credentials) or the registration is not confirmed.
func Start(ctx context.Context, cfg Config) (*Agent, error) {
	if cfg.URL == "" || cfg.APIKey == "" || cfg.APISecret == "" || cfg.AgentName == "" {
		return nil, errors.New("testagent: URL, APIKey, APISecret and AgentName are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	token, err := auth.NewAccessToken(cfg.APIKey, cfg.APISecret).
		SetVideoGrant(&auth.VideoGrant{Agent: true}).
		SetValidFor(24 * time.Hour).
		ToJWT()
	if err != nil {
		return nil, fmt.Errorf("testagent: sign worker token: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, registerTimeout)
		defer cancel()
	}
	wsURL := strings.TrimSuffix(signalling.ToWebsocketURL(cfg.URL), "/") + "/agent"
	conn, resp, err := websocket.DefaultDialer.DialContext(ctx, wsURL, http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("testagent: connect %s: %w (HTTP %s)", wsURL, err, resp.Status)
		}
		return nil, fmt.Errorf("testagent: connect %s: %w", wsURL, err)
	}
	a := &Agent{
		cfg:     cfg,
		log:     cfg.Logger.With("agent_name", cfg.AgentName),
		conn:    conn,
		rooms:   make(map[string]*lksdk.Room),
		arrived: make(chan struct{}),
		done:    make(chan struct{}),
	}
	if err := a.register(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	a.log = a.log.With("worker_id", a.workerID)
	a.log.Info("test agent registered")
	go a.readLoop()
	return a, nil
}

// register sends RegisterWorkerRequest and waits for its response.
func (a *Agent) register(ctx context.Context) error {
	err := a.send(&livekit.WorkerMessage{Message: &livekit.WorkerMessage_Register{
		Register: &livekit.RegisterWorkerRequest{
			Type:      livekit.JobType_JT_ROOM,
			AgentName: a.cfg.AgentName,
			Version:   "dialq-testagent",
		},
	}})
	if err != nil {
		return fmt.Errorf("testagent: send registration: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = a.conn.SetReadDeadline(dl)
		defer func() { _ = a.conn.SetReadDeadline(time.Time{}) }()
	}
	for {
		msg, err := a.receive()
		if err != nil {
			return fmt.Errorf("testagent: await registration: %w", err)
		}
		if r := msg.GetRegister(); r != nil {
			a.workerID = r.WorkerId
			return nil
		}
	}
}

// WorkerID returns the id livekit-server gave this worker (AW_...).
func (a *Agent) WorkerID() string {
	return a.workerID
}

// readLoop handles the server's messages until the connection closes.
func (a *Agent) readLoop() {
	defer close(a.done)
	for {
		msg, err := a.receive()
		if err != nil {
			a.mu.Lock()
			closed := a.closed
			a.readErr = err
			a.mu.Unlock()
			if !closed {
				a.log.Warn("test agent lost its connection to livekit-server", "error", err)
			}
			return
		}
		switch m := msg.Message.(type) {
		case *livekit.ServerMessage_Availability:
			a.accept(m.Availability.GetJob())
		case *livekit.ServerMessage_Assignment:
			a.jobsWG.Add(1)
			go func() {
				defer a.jobsWG.Done()
				a.run(m.Assignment)
			}()
		case *livekit.ServerMessage_Termination:
			a.terminate(m.Termination.GetJobId())
		}
	}
}

// accept answers an AvailabilityRequest: this worker takes every job.
func (a *Agent) accept(job *livekit.Job) {
	if job == nil {
		return
	}
	err := a.send(&livekit.WorkerMessage{Message: &livekit.WorkerMessage_Availability{
		Availability: &livekit.AvailabilityResponse{
			JobId:               job.Id,
			Available:           true,
			ParticipantIdentity: "agent-" + job.Id,
			ParticipantName:     a.cfg.AgentName,
		},
	}})
	if err != nil {
		a.log.Warn("test agent could not accept job", "job_id", job.Id, "error", err)
	}
}

// updateJob reports a job's status to livekit-server.
func (a *Agent) updateJob(jobID string, status livekit.JobStatus, errMsg string) error {
	return a.send(&livekit.WorkerMessage{Message: &livekit.WorkerMessage_UpdateJob{
		UpdateJob: &livekit.UpdateJobStatus{JobId: jobID, Status: status, Error: errMsg},
	}})
}

func (a *Agent) send(msg *livekit.WorkerMessage) error {
	data, err := proto.Marshal(msg)
	if err != nil {
		return err
	}
	a.writeMu.Lock()
	defer a.writeMu.Unlock()
	return a.conn.WriteMessage(websocket.BinaryMessage, data)
}

func (a *Agent) receive() (*livekit.ServerMessage, error) {
	for {
		kind, data, err := a.conn.ReadMessage()
		if err != nil {
			return nil, err
		}
		if kind != websocket.BinaryMessage {
			continue
		}
		msg := &livekit.ServerMessage{}
		if err := proto.Unmarshal(data, msg); err != nil {
			return nil, fmt.Errorf("decode server message: %w", err)
		}
		return msg, nil
	}
}

// Close leaves every room the agent is in, reporting those jobs done, and
// closes the worker connection, which deregisters the worker. Close is
// idempotent.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()

	a.jobsWG.Wait()
	a.mu.Lock()
	ids := make([]string, 0, len(a.rooms))
	for id := range a.rooms {
		ids = append(ids, id)
	}
	a.mu.Unlock()
	for _, id := range ids {
		a.leave(id, livekit.JobStatus_JS_SUCCESS)
	}

	a.writeMu.Lock()
	_ = a.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	a.writeMu.Unlock()
	err := a.conn.Close()
	<-a.done
	return err
}
