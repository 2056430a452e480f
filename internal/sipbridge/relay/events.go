package relay

import (
	"encoding/json"
	"sync"

	lksdk "github.com/livekit/server-sdk-go/v2"
)

// The call events the agent gets on eventTopic, as {"event": name}.
const (
	eventAnswered = "call_answered"
	eventHold     = "call_hold"
	eventResume   = "call_resume"
)

// callState is what a participant knows of the call from its events:
// whether it was answered and whether it is on hold.
type callState struct {
	answered, held bool
}

// after is the state once event has been told.
func (c callState) after(event string) callState {
	switch event {
	case eventAnswered:
		c.answered = true
	case eventHold:
		c.held = true
	case eventResume:
		c.held = false
	}
	return c
}

// eventsTo lists the events, in order, that bring someone who knows c to
// know to: a participant that joins on hold gets call_answered, then
// call_hold; one that was there all along gets the one event that
// happened.
func (c callState) eventsTo(to callState) []string {
	var events []string
	if to.answered && !c.answered {
		events = append(events, eventAnswered)
	}
	if to.answered && to.held != c.held {
		if to.held {
			events = append(events, eventHold)
		} else {
			events = append(events, eventResume)
		}
	}
	return events
}

// callEvents is what the room's participants have been told of the call.
// Every participant but the phones gets each event once: the ones in the
// room when it happens, and the ones that join later in a catch-up when
// their join reaches the bridge. So every event goes to named participants
// (destination identities), never to the whole room: livekit-server would
// deliver a packet to the whole room to someone whose join the bridge has
// not seen yet, who would then get it a second time in its catch-up. That
// is no rare race: livekit-server tells the room of a participant that
// publishes no track in batches, up to 3 s after it joined.
type callEvents struct {
	mu     sync.Mutex
	state  callState            // what has happened to the call
	told   map[string]callState // by participant SID; absent: nothing yet
	closed bool                 // the call is over: nobody is told more
}

// announce records event and tells it to the participants in the room, and
// anything they missed to those that joined meanwhile.
func (s *Session) announce(event string) {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	if s.events.closed {
		return
	}
	before := s.events.state
	s.events.state = before.after(event)
	s.tellLocked(before)
}

// catchUp tells the participants whose join has just been seen what
// happened to the call before: call_answered, and call_hold while on hold.
func (s *Session) catchUp() {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	if s.events.closed {
		return
	}
	s.tellLocked(s.events.state)
}

// stopEvents tells nobody anything more: the call is ending.
func (s *Session) stopEvents() {
	s.events.mu.Lock()
	s.events.closed = true
	s.events.mu.Unlock()
}

// tellLocked brings every participant in the room, but the phones, up to
// the call's state; before is the state the last announcement left, which
// those who were there then know. Those who know as much are sent one
// packet per event they lack, addressed to them all. A participant is taken
// to know an event once it was handed to livekit-server; one that failed to
// go out is sent again on the next announcement or join. s.events.mu is
// held.
func (s *Session) tellLocked(before callState) {
	type group struct {
		from       callState
		sids       []string
		identities []string
	}
	now := s.events.state
	var groups []*group
	for _, rp := range s.room.GetRemoteParticipants() {
		if rp.Kind() == lksdk.ParticipantSIP {
			continue
		}
		from := s.events.told[rp.SID()]
		if from == now {
			continue
		}
		i := 0
		for i < len(groups) && groups[i].from != from {
			i++
		}
		if i == len(groups) {
			groups = append(groups, &group{from: from})
		}
		groups[i].sids = append(groups[i].sids, rp.SID())
		groups[i].identities = append(groups[i].identities, rp.Identity())
	}
	for _, g := range groups {
		known := g.from
		events := g.from.eventsTo(now)
		for _, event := range events {
			if err := s.sendEvent(event, g.identities); err != nil {
				s.log.Warn("could not send call event to the room", "event", event, "to", g.identities, "error", err)
				break
			}
			known = known.after(event)
			for _, sid := range g.sids {
				s.events.told[sid] = known
			}
		}
		if g.from != before && known == now {
			s.log.Info("told participants that joined what happened to the call", "to", g.identities, "events", events)
		}
	}
}

// sendEvent sends {"event": name} reliably on eventTopic to the
// participants with identities to, which must not be empty: a packet with
// no destination goes to everyone.
func (s *Session) sendEvent(name string, to []string) error {
	payload, err := json.Marshal(struct {
		Event string `json:"event"`
	}{name})
	if err != nil {
		return err
	}
	return s.room.LocalParticipant.PublishDataPacket(lksdk.UserData(payload),
		lksdk.WithDataPublishTopic(eventTopic), lksdk.WithDataPublishReliable(true),
		lksdk.WithDataPublishDestination(to))
}
