package webhooks

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// DSN is the database to LISTEN on; its search_path picks the schema.
	DSN string
	// Channel is the schema's channel (postgres.DB.WebhookChannel).
	Channel string
	Enqueue Enqueuer
	Log     *slog.Logger
	// Reconnected runs after the listener got its connection back:
	// notifications sent while it was away are lost, so the caller sweeps.
	Reconnected func()
}

// Dispatcher is the background service that turns Postgres notifications
// of new and redelivered deliveries (webhook_enqueue) into webhook:deliver
// tasks at once: the delivery's request leaves milliseconds after the
// transaction that made it commits. Several workers may each run one: the
// TaskID of an attempt is the same in each, so it is enqueued once.
type Dispatcher struct {
	cfg      DispatcherConfig
	listener *pq.Listener
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	// listening is closed once the first LISTEN has been sent.
	listening chan struct{}
}

// NewDispatcher returns a dispatcher; Start starts it.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Dispatcher{cfg: cfg, listening: make(chan struct{})}
}

// Start connects the listener and enqueues what it hears until Shutdown.
// A listener that cannot connect keeps trying, logging each failure.
func (d *Dispatcher) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.listener = pq.NewListener(d.cfg.DSN, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventConnectionAttemptFailed, pq.ListenerEventDisconnected:
			d.cfg.Log.Warn("webhook listener lost Postgres; deliveries wait for the sweeper until it is back", "err", err)
		case pq.ListenerEventReconnected:
			d.cfg.Log.Info("webhook listener reconnected")
			if d.cfg.Reconnected != nil {
				go d.cfg.Reconnected()
			}
		}
	})
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.listener.Listen(d.cfg.Channel); err != nil {
			d.cfg.Log.Error("webhook listener cannot LISTEN; deliveries wait for the sweeper", "channel", d.cfg.Channel, "err", err)
		}
		close(d.listening)
		d.run(ctx)
	}()
}

// Listening is closed once the dispatcher has asked to LISTEN: a test
// waits on it before it makes changes.
func (d *Dispatcher) Listening() <-chan struct{} { return d.listening }

func (d *Dispatcher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n, ok := <-d.listener.Notify:
			if !ok {
				return // closed by Shutdown
			}
			if n == nil {
				continue // reconnected: the callback above sweeps
			}
			d.dispatch(ctx, n.Extra)
		}
	}
}

// dispatch enqueues the attempt a notification announces:
// "<delivery id>:<stamp>".
func (d *Dispatcher) dispatch(ctx context.Context, extra string) {
	idText, stampText, _ := strings.Cut(extra, ":")
	id, err1 := strconv.ParseInt(idText, 10, 64)
	st, err2 := strconv.ParseInt(stampText, 10, 64)
	if err1 != nil || err2 != nil {
		d.cfg.Log.Warn("webhook notification not understood", "payload", extra)
		return
	}
	if err := d.cfg.Enqueue.EnqueueDelivery(ctx, id, "new", st, time.UnixMicro(st)); err != nil && ctx.Err() == nil {
		d.cfg.Log.Warn("enqueue webhook delivery; the sweeper will", "delivery_id", id, "err", err)
	}
}

// Shutdown stops listening and returns once the goroutine has ended.
func (d *Dispatcher) Shutdown() {
	if d.cancel == nil {
		return
	}
	d.cancel()
	// Close first: a Listen still waiting for its first connection returns.
	d.listener.Close()
	d.wg.Wait()
}
