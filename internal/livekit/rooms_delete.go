package livekit

import (
	"context"
	"errors"
	"fmt"

	lkp "github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
)

// DeleteRoom closes room, disconnecting everyone in it (the agent of a
// call that will not be dialed after all). A room already gone is not an
// error.
func (c *Client) DeleteRoom(ctx context.Context, room string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	_, err := c.rooms.DeleteRoom(ctx, &lkp.DeleteRoomRequest{Room: room})
	var te twirp.Error
	if err == nil || (errors.As(err, &te) && te.Code() == twirp.NotFound) {
		return nil
	}
	return classify(ctx, fmt.Errorf("delete room %s: %w", room, err))
}
