package dialq

import (
	"time"

	"github.com/google/uuid"
)

// Assistant is a voice agent configuration: what the LiveKit agent named
// AgentName is told to say and do on a call.
type Assistant struct {
	ID       uuid.UUID `db:"id"`
	TenantID uuid.UUID `db:"tenant_id"`
	Name     string    `db:"name"`
	// Prompt and StartInstruction may hold {{placeholders}} filled from the
	// call's metadata.
	Prompt           string `db:"prompt"`
	StartInstruction string `db:"start_instruction"`
	AgentName        string `db:"agent_name"`
	// AgentJoinTimeout is how long a call waits for the agent to join its
	// room before the phone is dialed; zero means DefaultAgentJoinTimeout.
	// An agent that has not joined by then fails the call as
	// agent_unavailable, nobody rung.
	AgentJoinTimeout time.Duration `db:"-"`
	// DialWithoutAgent dials as soon as the agent is dispatched, without
	// waiting for it to join: for agents that join late on purpose.
	DialWithoutAgent bool `db:"dial_without_agent"`
	// KeepCallOnAgentLeave keeps an answered call going when the agent
	// leaves its room (an agent that hands over, or restarts and comes
	// back): the leaving is a timeline event, and a call left with no agent
	// for the worker's agent grace is hung up (failed, agent_left). By
	// default an agent hangs up by leaving.
	KeepCallOnAgentLeave bool      `db:"keep_call_on_agent_leave"`
	CreatedAt            time.Time `db:"created_at"`
	UpdatedAt            time.Time `db:"updated_at"`
}

// JoinTimeout is how long a call of a waits for its agent to join before
// the dial: zero when a dials without waiting.
func (a *Assistant) JoinTimeout() time.Duration {
	switch {
	case a.DialWithoutAgent:
		return 0
	case a.AgentJoinTimeout <= 0:
		return DefaultAgentJoinTimeout
	}
	return a.AgentJoinTimeout
}
