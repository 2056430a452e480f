package metrics

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// QueueInspector is the part of asynq's Inspector the queue collector reads.
type QueueInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// QueueConfig configures the queue collector.
type QueueConfig struct {
	// Inspector reads the queues (asynq.NewInspectorFromRedisClient).
	Inspector QueueInspector
	// Queues are the queues exported: those of the deployment (the dial,
	// campaign and webhook queues), never every queue in Redis.
	Queues []string
	// TTL is how long one reading serves scrapes; default 3 s. Each
	// reading runs a script over every queue's keys in Redis.
	TTL time.Duration
	// Wait is how long a scrape waits for a new reading before it takes
	// the last one; default 1 s. A reading that takes longer (Redis
	// stopped) goes on in the background.
	Wait time.Duration
	Log  *slog.Logger
	// Now is the clock of the TTL; default time.Now.
	Now func() time.Time
}

// queueCollector exports asynq's view of each queue, cached so that a
// scrape stays cheap however often it comes and however many scrapers
// there are.
type queueCollector struct {
	cfg QueueConfig

	size, tasks, latency, processed, failed, paused, memory, age *prometheus.Desc

	mu       sync.Mutex
	infos    map[string]*asynq.QueueInfo
	readAt   time.Time     // when infos was read; zero before the first reading
	inflight chan struct{} // closed when the reading under way ends; nil with none
}

func queueDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "queue", name), help, append([]string{"queue"}, labels...), nil)
}

// AddQueues exports the queues of cfg, read through its Inspector.
func (m *Metrics) AddQueues(cfg QueueConfig) {
	if cfg.TTL <= 0 {
		cfg.TTL = 3 * time.Second
	}
	if cfg.Wait <= 0 {
		cfg.Wait = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m.reg.MustRegister(&queueCollector{cfg: cfg,
		size:      queueDesc("size", "Tasks in the queue, in every state but completed (asynq's Size)."),
		tasks:     queueDesc("tasks", "Tasks in the queue by state: pending, active, scheduled, retry (failed, waiting for their retry), archived, completed (kept for their retention), aggregating.", "state"),
		latency:   queueDesc("latency_seconds", "How long the oldest pending task has waited (0 with none pending)."),
		processed: queueDesc("processed_total", "Tasks processed, succeeded or failed, since the queue was made (asynq's ProcessedTotal)."),
		failed:    queueDesc("failed_total", "Task runs that failed since the queue was made (asynq's FailedTotal): each is retried or archived."),
		paused:    queueDesc("paused", "1 when the queue is paused (in Asynqmon), else 0."),
		memory:    queueDesc("memory_bytes", "Redis memory the queue's tasks take, sampled by asynq."),
		age:       prometheus.NewDesc(prometheus.BuildFQName(Namespace, "queue", "stats_age_seconds"), "Age of the queue reading this scrape shows: more than a few seconds means Redis did not answer.", nil, nil),
	})
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.size, c.tasks, c.latency, c.processed, c.failed, c.paused, c.memory, c.age} {
		ch <- d
	}
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	infos, at := c.reading()
	if !at.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, c.cfg.Now().Sub(at).Seconds())
	}
	for _, q := range c.cfg.Queues {
		info, ok := infos[q]
		if !ok {
			continue // never read yet
		}
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{q}, labels...)...)
		}
		gauge(c.size, float64(info.Size))
		for _, st := range []struct {
			state string
			n     int
		}{{"pending", info.Pending}, {"active", info.Active}, {"scheduled", info.Scheduled}, {"retry", info.Retry},
			{"archived", info.Archived}, {"completed", info.Completed}, {"aggregating", info.Aggregating}} {
			gauge(c.tasks, float64(st.n), st.state)
		}
		gauge(c.latency, info.Latency.Seconds())
		ch <- prometheus.MustNewConstMetric(c.processed, prometheus.CounterValue, float64(info.ProcessedTotal), q)
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(info.FailedTotal), q)
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		gauge(c.paused, paused)
		gauge(c.memory, float64(info.MemoryUsage))
	}
}

// reading returns the cached reading, first starting a new one if it is
// older than the TTL and waiting up to Wait for it.
func (c *queueCollector) reading() (map[string]*asynq.QueueInfo, time.Time) {
	c.mu.Lock()
	if !c.readAt.IsZero() && c.cfg.Now().Sub(c.readAt) < c.cfg.TTL {
		defer c.mu.Unlock()
		return c.infos, c.readAt
	}
	done := c.inflight
	if done == nil {
		done = make(chan struct{})
		c.inflight = done
		go c.read(done)
	}
	c.mu.Unlock()
	select {
	case <-done:
	case <-time.After(c.cfg.Wait):
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.infos, c.readAt
}

// read takes a new reading of every queue and closes done. A queue no task
// was ever put on reads as empty. If Redis fails, the last reading stays
// (its age says so).
func (c *queueCollector) read(done chan struct{}) {
	defer close(done)
	infos, err := c.readQueues()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight = nil
	if err != nil {
		c.cfg.Log.Warn("read the queues for /metrics; showing the last reading", "err", err)
		return
	}
	c.infos, c.readAt = infos, c.cfg.Now()
}

func (c *queueCollector) readQueues() (map[string]*asynq.QueueInfo, error) {
	// asynq tells a queue it does not know by an error of an internal type:
	// ask which exist first.
	known, err := c.cfg.Inspector.Queues()
	if err != nil {
		return nil, err
	}
	infos := make(map[string]*asynq.QueueInfo, len(c.cfg.Queues))
	for _, q := range c.cfg.Queues {
		if !slices.Contains(known, q) {
			infos[q] = &asynq.QueueInfo{Queue: q}
			continue
		}
		info, err := c.cfg.Inspector.GetQueueInfo(q)
		if err != nil {
			return nil, fmt.Errorf("queue %s: %w", q, err)
		}
		infos[q] = info
	}
	return infos, nil
}
