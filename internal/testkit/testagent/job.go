package testagent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/logging"
)

// Job is one job livekit-server assigned to the agent.
type Job struct {
	// ID is the job's id (AJ_...).
	ID string
	// DispatchID is the id of the dispatch that created the job (AD_...).
	DispatchID string
	Room       string
	RoomSID    string
	// Metadata is the dispatch's metadata, as given to CreateDispatch.
	Metadata string
	// AgentName is the name the job was dispatched to.
	AgentName string
	// ParticipantIdentity is the agent's identity in the room.
	ParticipantIdentity string
	// ReceivedAt is when the assignment arrived.
	ReceivedAt time.Time
	// JoinErr is why the agent could not join the room; the job was then
	// reported JS_FAILED. Nil once the agent is in the room and the job
	// JS_RUNNING.
	JoinErr error
}

// ErrClosed is returned by WaitJob when the Agent closed or lost its
// connection before the job arrived.
var ErrClosed = errors.New("testagent: agent closed")

// run handles a JobAssignment: join the room with the assignment's token,
// report JS_RUNNING (or JS_FAILED), and record the job.
func (a *Agent) run(as *livekit.JobAssignment) {
	job := as.GetJob()
	if job == nil {
		return
	}
	j := Job{
		ID:                  job.Id,
		DispatchID:          job.DispatchId,
		Room:                job.GetRoom().GetName(),
		RoomSID:             job.GetRoom().GetSid(),
		Metadata:            job.Metadata,
		AgentName:           job.AgentName,
		ParticipantIdentity: job.GetState().GetParticipantIdentity(),
		ReceivedAt:          time.Now(),
	}
	log := a.log.With("job_id", j.ID, "room", j.Room)
	url := a.cfg.URL
	if as.Url != nil && *as.Url != "" {
		url = *as.Url
	}
	cb := &lksdk.RoomCallback{OnDisconnected: func() { a.forget(j.ID) }}
	others := &company{present: make(map[string]bool)}
	if a.cfg.LeaveWhenAlone {
		cb.OnParticipantConnected = others.joined
		cb.OnParticipantDisconnected = func(rp *lksdk.RemoteParticipant) {
			if others.left(rp) {
				log.Info("test agent leaves: everyone else left the room")
				a.leave(j.ID, livekit.JobStatus_JS_SUCCESS)
			}
		}
	}
	room, err := lksdk.ConnectToRoomWithToken(url, as.Token, cb,
		lksdk.WithAutoSubscribe(false), lksdk.WithLogger(logging.LiveKitSDK(log)))
	if err != nil {
		j.JoinErr = fmt.Errorf("join room %s: %w", j.Room, err)
		log.Warn("test agent could not join the room", "error", err)
		if err := a.updateJob(j.ID, livekit.JobStatus_JS_FAILED, j.JoinErr.Error()); err != nil {
			log.Warn("test agent could not report the job failed", "error", err)
		}
		a.record(j)
		return
	}
	a.mu.Lock()
	a.rooms[j.ID] = room
	a.mu.Unlock()
	if err := a.updateJob(j.ID, livekit.JobStatus_JS_RUNNING, ""); err != nil {
		log.Warn("test agent could not report the job running", "error", err)
	}
	log.Info("test agent joined the room", "dispatch_id", j.DispatchID)
	a.record(j)
	if a.cfg.LeaveWhenAlone {
		// Those already in the room when the agent joined get no callback.
		for _, rp := range room.GetRemoteParticipants() {
			others.joined(rp)
		}
	}
}

// company is who else is in a job's room, for Config.LeaveWhenAlone:
// participants that are not agents.
type company struct {
	mu      sync.Mutex
	present map[string]bool
	seen    bool
}

func (c *company) joined(rp *lksdk.RemoteParticipant) {
	if rp.Kind() == lksdk.ParticipantAgent {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.present[rp.Identity()], c.seen = true, true
}

// left reports whether rp leaving left the room without anyone but agents,
// after someone else had been in it.
func (c *company) left(rp *lksdk.RemoteParticipant) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.present, rp.Identity())
	return c.seen && len(c.present) == 0
}

// terminate handles a JobTermination from livekit-server.
func (a *Agent) terminate(jobID string) {
	a.log.Info("test agent job terminated by livekit-server", "job_id", jobID)
	a.leave(jobID, livekit.JobStatus_JS_SUCCESS)
}

// leave takes the agent out of the job's room and reports the job's final
// status; it does nothing for a job no longer in a room.
func (a *Agent) leave(jobID string, status livekit.JobStatus) {
	a.mu.Lock()
	room := a.rooms[jobID]
	delete(a.rooms, jobID)
	a.mu.Unlock()
	if room == nil {
		return
	}
	room.Disconnect()
	if err := a.updateJob(jobID, status, ""); err != nil {
		a.log.Warn("test agent could not report the job ended", "job_id", jobID, "error", err)
	}
}

// forget drops a room the server disconnected the agent from.
func (a *Agent) forget(jobID string) {
	a.mu.Lock()
	delete(a.rooms, jobID)
	a.mu.Unlock()
}

func (a *Agent) record(j Job) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.jobs = append(a.jobs, j)
	close(a.arrived)
	a.arrived = make(chan struct{})
}

// Jobs returns the jobs received so far, in order of arrival.
func (a *Agent) Jobs() []Job {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Job(nil), a.jobs...)
}

// WaitJob returns the first job for room, waiting until one arrives (the
// agent has then joined the room and reported the job running, or failed to
// join: see Job.JoinErr). Returns ctx's error if ctx ends first, or
// ErrClosed if the agent closes or loses its connection first.
func (a *Agent) WaitJob(ctx context.Context, room string) (Job, error) {
	for {
		a.mu.Lock()
		for _, j := range a.jobs {
			if j.Room == room {
				a.mu.Unlock()
				return j, nil
			}
		}
		arrived := a.arrived
		a.mu.Unlock()
		select {
		case <-arrived:
		case <-a.done:
			return Job{}, ErrClosed
		case <-ctx.Done():
			return Job{}, fmt.Errorf("testagent: wait for a job in room %s: %w", room, ctx.Err())
		}
	}
}

// Leave takes the agent out of room, as an agent does when it ends the
// conversation, and reports the job JS_SUCCESS. Returns an error if the agent
// is not in room.
func (a *Agent) Leave(room string) error {
	a.mu.Lock()
	var jobID string
	for id, r := range a.rooms {
		if r.Name() == room {
			jobID = id
		}
	}
	a.mu.Unlock()
	if jobID == "" {
		return fmt.Errorf("testagent: not in room %s", room)
	}
	a.leave(jobID, livekit.JobStatus_JS_SUCCESS)
	return nil
}
