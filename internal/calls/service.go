// Package calls is dialq's calls service: the use cases of a call (place,
// get, list, hang up, wait) written once. The HTTP API, dialqctl, the
// campaign scheduler and the tests call them; none of them repeats a rule.
package calls

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/notify"
	"github.com/dialq/dialq/internal/ttlcache"
)

// Store is what the service reads and writes in Postgres.
type Store interface {
	FindAssistant(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Assistant, error)
	FindTrunk(ctx context.Context, tenantID uuid.UUID, id string) (*dialq.Trunk, error)
	CreateCall(ctx context.Context, c *dialq.Call) (*dialq.Call, error)
	FindCall(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Call, error)
	GetCall(ctx context.Context, id uuid.UUID) (*dialq.Call, error)
	RecordReport(ctx context.Context, id uuid.UUID, r dialq.Report) error
	ListCalls(ctx context.Context, tenantID uuid.UUID, f dialq.CallFilter) ([]*dialq.Call, error)
	Events(ctx context.Context, id uuid.UUID) ([]dialq.CallEvent, error)
	EventsAfter(ctx context.Context, id uuid.UUID, after int64) ([]dialq.CallEvent, error)
	RecordFailed(ctx context.Context, id uuid.UUID, f dialq.Failure, at time.Time) (bool, error)
	RecordEnded(ctx context.Context, id uuid.UUID, e dialq.End, at time.Time) (bool, error)
	RecordEvent(ctx context.Context, id uuid.UUID, kind, detail string) error
	RecordAgentLeft(ctx context.Context, id uuid.UUID, detail string, at time.Time) error
	RequestHangup(ctx context.Context, id uuid.UUID, by dialq.EndedBy, reason string) (bool, error)
	// Suppress puts numbers on the tenant's do-not-call list (an agent's
	// do_not_call report).
	Suppress(ctx context.Context, tenant uuid.UUID, numbers []string, reason string) (int, error)
}

// Phones hangs up LiveKit SIP calls: it removes the phone participant from
// the call's room (package livekit).
type Phones interface {
	RemovePhone(ctx context.Context, room, identity string) error
}

// Notifier announces a call's change to waiting requests of every API
// process.
type Notifier interface {
	CallChanged(ctx context.Context, id uuid.UUID, s dialq.CallStatus) error
}

// Queue puts a call's dial task on the queue.
type Queue interface {
	EnqueueDial(ctx context.Context, c *dialq.Call) error
}

// Watcher delivers the changes of one call to a waiting caller.
type Watcher interface {
	Watch(id uuid.UUID) *notify.Waiter
}

// Hangups tells the worker holding a bridged call to end it now.
type Hangups interface {
	Request(ctx context.Context, id uuid.UUID, reason string) error
}

// Config tunes the service.
type Config struct {
	// PollInterval is how often a wait re-reads the call from Postgres in
	// case a notification was lost. Default 1 s.
	PollInterval time.Duration
	// CacheTTL is how long assistants and trunks are cached: the longest an
	// edit takes to show in new calls. 0 caches nothing.
	CacheTTL time.Duration
	// HangupWait is how long Hangup waits to see the call end. Default 5 s.
	HangupWait time.Duration
	// ReportTokens checks the tokens calls' agents report and hang up with
	// (DIALQ_SECRET_KEY); nil accepts none, only API keys.
	ReportTokens *dialq.ReportTokens
}

// Service is the calls service. Its methods are safe for concurrent use.
type Service struct {
	store   Store
	queue   Queue
	watch   Watcher
	hangups Hangups
	phones  Phones
	notify  Notifier
	reports Reports
	log     *slog.Logger
	cfg     Config
	// Now is the clock.
	Now func() time.Time

	assistants *ttlcache.Cache[tenantKey, *dialq.Assistant]
	trunks     *ttlcache.Cache[tenantKey, *dialq.Trunk]

	// waitsEnded is closed by EndWaits: every wait returns at once.
	waitsEnded chan struct{}
	endWaits   sync.Once
}

type tenantKey struct {
	tenant uuid.UUID
	id     string
}

// New returns the service. hangups may be nil: a hang-up is then only
// stored, and the worker holding the call finds it on its next heartbeat.
func New(store Store, queue Queue, watch Watcher, hangups Hangups, log *slog.Logger, cfg Config) *Service {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.HangupWait <= 0 {
		cfg.HangupWait = 5 * time.Second
	}
	s := &Service{store: store, queue: queue, watch: watch, hangups: hangups, log: log, cfg: cfg, Now: time.Now,
		waitsEnded: make(chan struct{})}
	now := func() time.Time { return s.Now() }
	s.assistants = ttlcache.New[tenantKey, *dialq.Assistant](cfg.CacheTTL, 10000, now)
	s.trunks = ttlcache.New[tenantKey, *dialq.Trunk](cfg.CacheTTL, 10000, now)
	return s
}

// UseLiveKit lets the service hang up LiveKit SIP calls (phones) and
// announce the changes it records (notify). Without it, a hang-up of such
// a call is EUNAVAILABLE.
func (s *Service) UseLiveKit(phones Phones, notify Notifier) {
	s.phones, s.notify = phones, notify
}

// Get returns the tenant's call id.
// Returns ENOTFOUND if it does not exist or belongs to another tenant.
func (s *Service) Get(ctx context.Context, tenantID, id uuid.UUID) (*dialq.Call, error) {
	return s.store.FindCall(ctx, tenantID, id)
}

// Events returns the timeline of c, a call Get or List returned, oldest
// first.
func (s *Service) Events(ctx context.Context, c *dialq.Call) ([]dialq.CallEvent, error) {
	return s.store.Events(ctx, c.ID)
}

// List returns a page of the tenant's calls, newest first, that match f.
// Returns EINVALID if f breaks a rule (dialq.CallFilter.Validate).
func (s *Service) List(ctx context.Context, tenantID uuid.UUID, f dialq.CallFilter) (dialq.CallPage, error) {
	if err := f.Validate(); err != nil {
		return dialq.CallPage{}, err
	}
	limit := f.Limit
	f.Limit = limit + 1 // one more tells whether there is a next page
	list, err := s.store.ListCalls(ctx, tenantID, f)
	if err != nil {
		return dialq.CallPage{}, err
	}
	page := dialq.CallPage{Calls: list}
	if len(list) > limit {
		page.Calls = list[:limit]
		page.Next = dialq.CursorAfter(page.Calls[limit-1])
	}
	return page, nil
}

func (s *Service) findAssistant(ctx context.Context, tenant, id uuid.UUID) (*dialq.Assistant, error) {
	k := tenantKey{tenant, id.String()}
	if a, ok := s.assistants.Get(k); ok {
		return a, nil
	}
	a, err := s.store.FindAssistant(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	s.assistants.Put(k, a)
	return a, nil
}

func (s *Service) findTrunk(ctx context.Context, tenant uuid.UUID, id string) (*dialq.Trunk, error) {
	k := tenantKey{tenant, id}
	if t, ok := s.trunks.Get(k); ok {
		return t, nil
	}
	t, err := s.store.FindTrunk(ctx, tenant, id)
	if err != nil {
		return nil, err
	}
	s.trunks.Put(k, t)
	return t, nil
}
