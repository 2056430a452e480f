package testagent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/require"

	"github.com/livekit/protocol/livekit"
	protologger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/testkit/testagent"
)

func TestMain(m *testing.M) {
	// The SDK logs its WebRTC (pion) chatter through its global logger, not
	// through the per-room one; keep it out of test output.
	lksdk.SetLogger(protologger.LogRLogger(logr.Discard()))
	os.Exit(m.Run())
}

// liveKit is the real livekit-server the tests run against.
type liveKit struct {
	URL, APIKey, APISecret string
}

// requireLiveKit reads the livekit-server of the local stack from the
// environment and fails the test, never skips it, when it is not set.
func requireLiveKit(t *testing.T) liveKit {
	t.Helper()
	lk := liveKit{
		URL:       os.Getenv("LIVEKIT_URL"),
		APIKey:    os.Getenv("LIVEKIT_API_KEY"),
		APISecret: os.Getenv("LIVEKIT_API_SECRET"),
	}
	if lk.URL == "" || lk.APIKey == "" || lk.APISecret == "" {
		t.Fatal("LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET must name a running livekit-server; " +
			"start the local stack and source .dialq/stack.env")
	}
	return lk
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// unique names an agent or room no other test or run uses.
func unique(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}

func startAgent(t *testing.T, lk liveKit, name string) *testagent.Agent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := testagent.Start(ctx, testagent.Config{
		URL:       lk.URL,
		APIKey:    lk.APIKey,
		APISecret: lk.APISecret,
		AgentName: name,
		Logger:    slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	require.NoError(t, err)
	require.Regexp(t, `^AW_`, a.WorkerID())
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	return a
}

func TestAgentTakesDispatchedJob(t *testing.T) {
	t.Parallel()
	lk := requireLiveKit(t)
	agentName := unique("dialq-test-agent")
	agent := startAgent(t, lk, agentName)
	rooms := lksdk.NewRoomServiceClient(lk.URL, lk.APIKey, lk.APISecret)
	dispatches := lksdk.NewAgentDispatchServiceClient(lk.URL, lk.APIKey, lk.APISecret)
	ctx := context.Background()

	room := unique("testagent")
	_, err := rooms.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: room})
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = rooms.DeleteRoom(context.Background(), &livekit.DeleteRoomRequest{Room: room})
	})
	dispatch, err := dispatches.CreateDispatch(ctx, &livekit.CreateAgentDispatchRequest{
		Room:      room,
		AgentName: agentName,
		Metadata:  `{"call_id":"c-42"}`,
	})
	require.NoError(t, err)

	waitCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	job, err := agent.WaitJob(waitCtx, room)
	require.NoError(t, err)
	require.NoError(t, job.JoinErr)
	require.Regexp(t, `^AJ_`, job.ID)
	require.Equal(t, dispatch.Id, job.DispatchID)
	require.Equal(t, `{"call_id":"c-42"}`, job.Metadata)
	require.Equal(t, agentName, job.AgentName)
	require.Equal(t, room, job.Room)
	require.Equal(t, "agent-"+job.ID, job.ParticipantIdentity)
	require.Len(t, agent.Jobs(), 1)

	p, err := rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room, Identity: job.ParticipantIdentity})
	require.NoError(t, err)
	require.Equal(t, livekit.ParticipantInfo_AGENT, p.Kind)

	// CreateRoom adds a dispatch of its own (for unnamed agents): look for ours.
	start := time.Now()
	require.Eventually(t, func() bool {
		resp, err := dispatches.ListDispatch(ctx, &livekit.ListAgentDispatchRequest{Room: room, DispatchId: dispatch.Id})
		if err != nil || len(resp.AgentDispatches) != 1 {
			return false
		}
		jobs := resp.AgentDispatches[0].GetState().GetJobs()
		return len(jobs) == 1 && jobs[0].Id == job.ID && jobs[0].GetState().GetStatus() == livekit.JobStatus_JS_RUNNING
	}, 15*time.Second, 250*time.Millisecond, "ListDispatch never showed the job JS_RUNNING")
	t.Logf("ListDispatch showed JS_RUNNING %s after the agent joined", time.Since(start))

	require.NoError(t, agent.Leave(room))
	require.Eventually(t, func() bool {
		_, err := rooms.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: room, Identity: job.ParticipantIdentity})
		return err != nil
	}, 10*time.Second, 100*time.Millisecond, "agent still in the room after Leave")
	require.Error(t, agent.Leave(room))
}

func TestWaitJobHonoursContext(t *testing.T) {
	t.Parallel()
	lk := requireLiveKit(t)
	agent := startAgent(t, lk, unique("dialq-test-agent"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := agent.WaitJob(ctx, "no-such-room")
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestStartRefusesBadCredentials(t *testing.T) {
	t.Parallel()
	lk := requireLiveKit(t)
	_, err := testagent.Start(context.Background(), testagent.Config{
		URL: lk.URL, APIKey: lk.APIKey, APISecret: "wrong", AgentName: "x",
	})
	require.ErrorContains(t, err, "401")

	_, err = testagent.Start(context.Background(), testagent.Config{URL: lk.URL})
	require.Error(t, err)
}
