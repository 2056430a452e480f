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
	Prompt           string    `db:"prompt"`
	StartInstruction string    `db:"start_instruction"`
	AgentName        string    `db:"agent_name"`
	CreatedAt        time.Time `db:"created_at"`
	UpdatedAt        time.Time `db:"updated_at"`
}
