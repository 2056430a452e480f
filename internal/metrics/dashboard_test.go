package metrics

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
)

// fakeInspector answers for queues as asynq's Inspector would, counting
// the readings: the only outside service here is the queue's Redis, which
// the e2e test reads for real.
type fakeInspector struct {
	readings int
	fail     bool
}

func (f *fakeInspector) Queues() ([]string, error) {
	f.readings++
	if f.fail {
		return nil, errors.New("redis down")
	}
	return []string{"calls"}, nil
}

func (f *fakeInspector) GetQueueInfo(q string) (*asynq.QueueInfo, error) {
	return &asynq.QueueInfo{Queue: q, Size: 3, Pending: 2, Retry: 1, Latency: 2 * time.Second, ProcessedTotal: 10, FailedTotal: 1}, nil
}

// everyFamily is a Metrics with a sample in each family dialq has, and the
// families by name with their type.
func everyFamily(t *testing.T) map[string]dto.MetricType {
	t.Helper()
	m := New()
	m.ObserveRequest("GET", "/calls", 200, time.Millisecond)
	f := dialq.Failure{Reason: dialq.ReasonBusy}
	end := dialq.Failed(f)
	m.CallMoved(dialq.CallMove{Service: dialq.ServiceTwilio, To: dialq.StatusAnswered, Answer: time.Second})
	m.CallMoved(dialq.CallMove{Service: dialq.ServiceTwilio, To: end.Status, End: &end})
	m.ObserveDialStep("room", dialq.ServiceExotel, time.Millisecond, nil)
	m.ObserveWebhook("delivered")
	m.AddBridge(func() BridgeStats { return BridgeStats{Live: 1} })
	m.AddQueues(QueueConfig{Inspector: &fakeInspector{}, Queues: []string{"calls", "calls_campaigns"}})
	fams, err := m.Registry().Gather()
	require.NoError(t, err)
	out := map[string]dto.MetricType{}
	for _, f := range fams {
		out[f.GetName()] = f.GetType()
	}
	return out
}

// TestDashboardUsesOnlyDialqSeries: every series a query of
// deploy/grafana/dialq.json reads is one dialq exports, so a renamed
// family fails here instead of leaving an empty panel; and every family of
// dialq's own is on the dashboard or named here as left off.
func TestDashboardUsesOnlyDialqSeries(t *testing.T) {
	families := everyFamily(t)
	raw, err := os.ReadFile("../../deploy/grafana/dialq.json")
	require.NoError(t, err)
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	require.Equal(t, "dialq", dash.Title)

	series := regexp.MustCompile(`\b(?:dialq|go|process)_[a-z0-9_]+`)
	used := map[string]bool{}
	queries := 0
	for _, p := range dash.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q has a query", p.Title)
		for _, tg := range p.Targets {
			queries++
			names := series.FindAllString(tg.Expr, -1)
			require.NotEmpty(t, names, "panel %q: %s reads no series", p.Title, tg.Expr)
			for _, name := range names {
				family := name
				if _, ok := families[name]; !ok {
					for _, suffix := range []string{"_bucket", "_sum", "_count"} {
						if base, cut := strings.CutSuffix(name, suffix); cut && families[base] == dto.MetricType_HISTOGRAM {
							family = base
						}
					}
				}
				_, ok := families[family]
				require.True(t, ok, "panel %q reads %s, which dialq does not export", p.Title, name)
				used[family] = true
			}
		}
	}
	require.Greater(t, queries, 20)

	leftOff := map[string]bool{
		"dialq_queue_paused":            true, // Asynqmon shows it
		"dialq_queue_memory_bytes":      true,
		"dialq_queue_stats_age_seconds": true,
	}
	for name := range families {
		if strings.HasPrefix(name, Namespace+"_") && !leftOff[name] {
			require.True(t, used[name], "dialq exports %s and the dashboard shows nothing of it", name)
		}
	}
}

// TestQueueCollectorCaches: scrapes within the TTL share one reading of the
// queues; a queue no task was put on reads as empty; when Redis fails the
// last reading stays, its age growing.
func TestQueueCollectorCaches(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	insp := &fakeInspector{}
	m := New()
	m.AddQueues(QueueConfig{Inspector: insp, Queues: []string{"calls", "calls_campaigns"}, TTL: 3 * time.Second,
		Now: func() time.Time { return now }})
	gather := func() map[string]*dto.MetricFamily {
		fams, err := m.Registry().Gather()
		require.NoError(t, err)
		out := map[string]*dto.MetricFamily{}
		for _, f := range fams {
			out[f.GetName()] = f
		}
		return out
	}
	byQueue := func(f *dto.MetricFamily) map[string]float64 {
		out := map[string]float64{}
		for _, s := range f.GetMetric() {
			v := s.GetGauge().GetValue() + s.GetCounter().GetValue()
			out[s.GetLabel()[0].GetValue()] = v
		}
		return out
	}

	fams := gather()
	require.Equal(t, 1, insp.readings)
	require.Equal(t, map[string]float64{"calls": 3, "calls_campaigns": 0}, byQueue(fams["dialq_queue_size"]))
	require.Equal(t, map[string]float64{"calls": 2, "calls_campaigns": 0}, byQueue(fams["dialq_queue_latency_seconds"]))
	require.Equal(t, map[string]float64{"calls": 10, "calls_campaigns": 0}, byQueue(fams["dialq_queue_processed_total"]))

	now = now.Add(2 * time.Second)
	gather()
	require.Equal(t, 1, insp.readings, "within the TTL: the same reading")

	now = now.Add(2 * time.Second)
	insp.fail = true
	fams = gather()
	require.Equal(t, 2, insp.readings, "past the TTL: read again")
	require.Equal(t, map[string]float64{"calls": 3, "calls_campaigns": 0}, byQueue(fams["dialq_queue_size"]), "the last reading stays")
	require.Equal(t, 4.0, fams["dialq_queue_stats_age_seconds"].GetMetric()[0].GetGauge().GetValue())
}
