// Package notify tells API processes that a call changed, over one Redis
// pub/sub channel, so a request waiting on its call wakes at once instead of
// polling Postgres; workers hear the same changes to free the limits of
// calls that ended.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/dialq/dialq/internal/dialq"
)

// DefaultChannel is the pub/sub channel of call changes.
const DefaultChannel = "dialq:call-changed"

// Publisher announces call changes. Messages are hints: a lost one only
// makes a waiter fall back to reading Postgres.
type Publisher struct {
	rdb     redis.UniversalClient
	channel string
}

// NewPublisher returns a Publisher on channel (DefaultChannel when empty).
func NewPublisher(rdb redis.UniversalClient, channel string) *Publisher {
	if channel == "" {
		channel = DefaultChannel
	}
	return &Publisher{rdb: rdb, channel: channel}
}

// CallChanged announces that call id now has status s.
func (p *Publisher) CallChanged(ctx context.Context, id uuid.UUID, s dialq.CallStatus) error {
	if err := p.rdb.Publish(ctx, p.channel, id.String()+" "+string(s)).Err(); err != nil {
		return fmt.Errorf("publish change of call %s: %w", id, err)
	}
	return nil
}

// Changes hands every call change announced on the channel to one handler:
// the worker hears each call's end there, whoever ended it, and frees the
// call's slots of its limits. Messages are hints, as for the Hub: one
// published while nobody listens is lost.
type Changes struct {
	rdb     redis.UniversalClient
	channel string
}

// NewChanges returns Changes on channel (DefaultChannel when empty).
func NewChanges(rdb redis.UniversalClient, channel string) *Changes {
	if channel == "" {
		channel = DefaultChannel
	}
	return &Changes{rdb: rdb, channel: channel}
}

// Listen subscribes and calls handle for each change, one at a time, until
// ctx ends. It returns an error if the subscription fails; once subscribed
// it returns nil, and stops when ctx ends.
func (c *Changes) Listen(ctx context.Context, log *slog.Logger, handle func(id uuid.UUID, s dialq.CallStatus)) error {
	sub := c.rdb.Subscribe(ctx, c.channel)
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return fmt.Errorf("subscribe to %s: %w", c.channel, err)
	}
	go func() {
		<-ctx.Done()
		sub.Close()
	}()
	go func() {
		for msg := range sub.Channel() {
			idText, status, _ := strings.Cut(msg.Payload, " ")
			id, err := uuid.Parse(idText)
			if err != nil {
				log.Warn("ignoring malformed call change", "payload", msg.Payload)
				continue
			}
			handle(id, dialq.CallStatus(status))
		}
	}()
	return nil
}

// Hub holds one subscription per process and hands each change to the
// requests waiting on that call.
type Hub struct {
	sub *redis.PubSub
	log *slog.Logger

	mu      sync.Mutex
	waiters map[uuid.UUID]map[*Waiter]struct{}
	done    chan struct{}
}

// Waiter receives the changes of one call until Close.
type Waiter struct {
	hub *Hub
	id  uuid.UUID
	// C carries the latest status announced; a slow reader sees the newest.
	C chan dialq.CallStatus
}

// NewHub subscribes to channel (DefaultChannel when empty) and returns once
// the subscription is confirmed.
func NewHub(ctx context.Context, rdb redis.UniversalClient, channel string, log *slog.Logger) (*Hub, error) {
	if channel == "" {
		channel = DefaultChannel
	}
	sub := rdb.Subscribe(ctx, channel)
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", channel, err)
	}
	h := &Hub{sub: sub, log: log, waiters: map[uuid.UUID]map[*Waiter]struct{}{}, done: make(chan struct{})}
	go h.run()
	return h, nil
}

func (h *Hub) run() {
	defer close(h.done)
	for msg := range h.sub.Channel() {
		idText, status, ok := strings.Cut(msg.Payload, " ")
		id, err := uuid.Parse(idText)
		if !ok || err != nil {
			h.log.Warn("ignoring malformed call change", "payload", msg.Payload)
			continue
		}
		h.mu.Lock()
		for w := range h.waiters[id] {
			// Keep only the newest status in the one-slot buffer.
			select {
			case <-w.C:
			default:
			}
			w.C <- dialq.CallStatus(status)
		}
		h.mu.Unlock()
	}
}

// Watch starts receiving the changes of call id. Call it before the change
// can happen (before enqueueing), and Close the waiter when done.
func (h *Hub) Watch(id uuid.UUID) *Waiter {
	w := &Waiter{hub: h, id: id, C: make(chan dialq.CallStatus, 1)}
	h.mu.Lock()
	set := h.waiters[id]
	if set == nil {
		set = map[*Waiter]struct{}{}
		h.waiters[id] = set
	}
	set[w] = struct{}{}
	h.mu.Unlock()
	return w
}

// Close stops delivery to w.
func (w *Waiter) Close() {
	h := w.hub
	h.mu.Lock()
	if set := h.waiters[w.id]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(h.waiters, w.id)
		}
	}
	h.mu.Unlock()
}

// Close ends the subscription.
func (h *Hub) Close() error {
	err := h.sub.Close()
	<-h.done
	return err
}

// DefaultHangupChannel is the pub/sub channel of requests to end a bridged
// call.
const DefaultHangupChannel = "dialq:call-hangup"

// Hangups carries requests to end a bridged call from API processes to
// every worker; the worker holding the call's session acts on it, the others
// ignore it. A request published while no worker listens is lost: the
// caller sees the call still live and may ask again.
type Hangups struct {
	rdb     redis.UniversalClient
	channel string
}

// NewHangups returns Hangups on channel (DefaultHangupChannel when empty).
func NewHangups(rdb redis.UniversalClient, channel string) *Hangups {
	if channel == "" {
		channel = DefaultHangupChannel
	}
	return &Hangups{rdb: rdb, channel: channel}
}

// Request asks the worker holding call id to hang it up, for reason.
func (h *Hangups) Request(ctx context.Context, id uuid.UUID, reason string) error {
	if err := h.rdb.Publish(ctx, h.channel, id.String()+" "+reason).Err(); err != nil {
		return fmt.Errorf("publish hang-up of call %s: %w", id, err)
	}
	return nil
}

// Listen subscribes and calls handle for each request until ctx ends. It
// returns an error if the subscription fails; once subscribed it returns
// nil when ctx ends.
func (h *Hangups) Listen(ctx context.Context, log *slog.Logger, handle func(id uuid.UUID, reason string)) error {
	sub := h.rdb.Subscribe(ctx, h.channel)
	if _, err := sub.Receive(ctx); err != nil {
		sub.Close()
		return fmt.Errorf("subscribe to %s: %w", h.channel, err)
	}
	go func() {
		<-ctx.Done()
		sub.Close()
	}()
	go func() {
		for msg := range sub.Channel() {
			idText, reason, _ := strings.Cut(msg.Payload, " ")
			id, err := uuid.Parse(idText)
			if err != nil {
				log.Warn("ignoring malformed hang-up request", "payload", msg.Payload)
				continue
			}
			handle(id, reason)
		}
	}()
	return nil
}
