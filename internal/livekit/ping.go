package livekit

import (
	"context"
	"fmt"

	lkp "github.com/livekit/protocol/livekit"
)

// pingRoom is the room Ping asks for: one nobody makes, so the answer is
// empty and cheap however many rooms the server holds.
const pingRoom = "dialq-readiness-probe"

// Ping asks LiveKit for a room by name with the client's credentials: an
// authenticated request that succeeds only when the server answers and
// accepts the API key and secret (/readyz's livekit check).
func (c *Client) Ping(ctx context.Context) error {
	if _, err := c.rooms.ListRooms(ctx, &lkp.ListRoomsRequest{Names: []string{pingRoom}}); err != nil {
		return fmt.Errorf("list rooms: %w", err)
	}
	return nil
}
