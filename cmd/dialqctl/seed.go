package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/uuid"
	lkp "github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/secret"
)

// The demo tenant's fixed ids, so seeding twice changes nothing. The
// assistant id is the one the API contract's examples use.
var (
	demoTenant    = uuid.MustParse("00000000-0000-4000-8000-00000000d1a1")
	demoAssistant = uuid.MustParse("550e8400-e29b-41d4-a716-446655440000")
)

const (
	demoExotelTrunk  = "ST_exotel_demo"
	demoTwilioName   = "dialq-demo-twilio"
	demoAgentName    = "dialq-demo-agent"
	demoCallerNumber = "+15550100000"
)

// seedDemo makes the demo tenant, its API key, an assistant and one trunk
// per provider (the twilio one created in LiveKit), and writes them as shell
// variables to the env file.
func seedDemo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed-demo", flag.ExitOnError)
	envFile := fs.String("env-file", ".dialq/demo.env", "where to write the demo's shell variables")
	sipAddr := fs.String("sip-address", "127.0.0.1:5060", "SIP address of the demo twilio trunk")
	exotelAddr := fs.String("exotel-address", "127.0.0.1:58060", "SIP address (host:port, TCP) the demo Exotel trunk dials: make run's sipp phone")
	exotelRTP := fs.String("exotel-rtp-ports", "58100-58299", "the demo Exotel trunk's local RTP port range")
	noAgent := fs.Bool("dial-without-agent", false,
		"the demo assistant dials without waiting for its agent to join: for a demo run with no agent registered under "+demoAgentName+
			" (otherwise its calls fail as agent_unavailable after 10 s, nobody rung)")
	joinTimeout := fs.Duration("agent-join-timeout", dialq.DefaultAgentJoinTimeout, "how long the demo assistant's calls wait for its agent to join before the phone is dialed")
	fs.Parse(args)
	if *joinTimeout <= 0 {
		return fmt.Errorf("-agent-join-timeout must be positive")
	}

	l := envconf.New()
	env := readSeedEnv(l)
	dsn, lkURL, lkKey, lkSecret, sipURL, apiURL := env.DatabaseURL, env.LiveKitURL, env.LiveKitKey, env.LiveKitSecret, env.SIPURL, env.APIURL
	if err := l.Err(); err != nil {
		return err
	}

	if err := postgres.Migrate(ctx, dsn); err != nil {
		return err
	}
	db, err := postgres.Open(ctx, dsn, 2)
	if err != nil {
		return err
	}
	defer db.Close()

	// Seeding again keeps the call limits a user gave the demo tenant and
	// trunks (dialqctl tenant-limits, save-trunk).
	tenant := &dialq.Tenant{ID: demoTenant, Name: "demo"}
	if prev, err := db.FindTenant(ctx, demoTenant); err == nil {
		tenant.CallLimits = prev.CallLimits
	}
	if err := db.SaveTenant(ctx, tenant); err != nil {
		return err
	}
	if err := db.SaveAssistant(ctx, &dialq.Assistant{
		ID: demoAssistant, TenantID: demoTenant, Name: "Demo assistant",
		Prompt:           "You are {{agent_name|Sarah}}, calling {{name|the customer}} on behalf of {{company|Acme Corp}}.",
		StartInstruction: "Hi {{name|there}}, this is {{agent_name|Sarah}} from {{company|Acme Corp}}.",
		AgentName:        demoAgentName,
		DialWithoutAgent: *noAgent,
		AgentJoinTimeout: *joinTimeout,
	}); err != nil {
		return err
	}

	// The twilio trunk lives in LiveKit; its id is LiveKit's.
	sip := lksdk.NewSIPClient(sipURL, lkKey, lkSecret)
	lkTrunk, err := ensureLiveKitTrunk(ctx, sip, *sipAddr)
	if err != nil {
		return fmt.Errorf("LiveKit SIP outbound trunk at %s: %w", sipURL, err)
	}
	trunks, err := db.TrunksOf(ctx, demoTenant)
	if err != nil {
		return err
	}
	limits := map[string]dialq.CallLimits{}
	for _, t := range trunks {
		limits[t.ID] = t.CallLimits
		if t.Provider == dialq.ServiceTwilio && t.ID != lkTrunk {
			if err := db.DeleteTrunk(ctx, demoTenant, t.ID); err != nil {
				return err
			}
		}
	}
	if err := db.SaveTrunk(ctx, &dialq.Trunk{ID: lkTrunk, TenantID: demoTenant, Name: "Demo Twilio (LiveKit SIP)",
		Provider: dialq.ServiceTwilio, LiveKitTrunkID: lkTrunk, Numbers: []string{demoCallerNumber},
		CallLimits: limits[lkTrunk]}); err != nil {
		return err
	}

	// The secret key seals the Exotel trunk's SIP password; keep the one of
	// an earlier seeding, or the sealed password could not be opened.
	prev := readEnv(*envFile)
	secretKey := prev["DIALQ_SECRET_KEY"]
	box, err := secret.BoxFromKey(secretKey)
	if err != nil {
		secretKey = secret.NewKey()
		if box, err = secret.BoxFromKey(secretKey); err != nil {
			return err
		}
	}
	db.UseSecrets(box)
	exotel, err := demoExotelConfig(*exotelAddr, *exotelRTP)
	if err != nil {
		return err
	}
	if err := db.SaveTrunk(ctx, &dialq.Trunk{ID: demoExotelTrunk, TenantID: demoTenant, Name: "Demo Exotel (local sipp phone)",
		Provider: dialq.ServiceExotel, SIP: exotel, CallLimits: limits[demoExotelTrunk]}); err != nil {
		return err
	}

	// Keep the key from an earlier seeding if it still works: only its hash
	// is stored, so a lost key cannot be shown again.
	key := prev["DIALQ_API_KEY"]
	if id, ok := dialq.ParseAPIKey(key); !ok || !keyValid(ctx, db, id, key) {
		k, fresh := dialq.NewAPIKey(demoTenant)
		if err := db.CreateAPIKey(ctx, k, "demo"); err != nil {
			return err
		}
		key = fresh
	}

	vars := [][2]string{
		{"DIALQ_API_URL", apiURL},
		{"DIALQ_API_KEY", key},
		{"DIALQ_TENANT_ID", demoTenant.String()},
		{"DIALQ_ASSISTANT_ID", demoAssistant.String()},
		{"DIALQ_AGENT_NAME", demoAgentName},
		{"DIALQ_TWILIO_TRUNK_ID", lkTrunk},
		{"DIALQ_EXOTEL_TRUNK_ID", demoExotelTrunk},
		{"DIALQ_SECRET_KEY", secretKey},
		{"LIVEKIT_URL", lkURL},
		{"LIVEKIT_API_KEY", lkKey},
		{"LIVEKIT_API_SECRET", lkSecret},
		{"REDIS_ADDR", env.RedisAddr},
		{"DATABASE_URL", dsn},
	}
	var b strings.Builder
	b.WriteString("# Written by dialqctl seed-demo. Source it: . " + *envFile + "\n")
	for _, v := range vars {
		fmt.Fprintf(&b, "export %s='%s'\n", v[0], v[1])
	}
	if err := os.MkdirAll(filepath.Dir(*envFile), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*envFile, []byte(b.String()), 0o600); err != nil {
		return err
	}
	fmt.Print(b.String())
	return nil
}

func ensureLiveKitTrunk(ctx context.Context, sip *lksdk.SIPClient, addr string) (string, error) {
	list, err := sip.ListSIPOutboundTrunk(ctx, &lkp.ListSIPOutboundTrunkRequest{})
	if err != nil {
		return "", err
	}
	for _, t := range list.Items {
		if t.Name == demoTwilioName {
			return t.SipTrunkId, nil
		}
	}
	t, err := sip.CreateSIPOutboundTrunk(ctx, &lkp.CreateSIPOutboundTrunkRequest{Trunk: &lkp.SIPOutboundTrunkInfo{
		Name:    demoTwilioName,
		Address: addr,
		Numbers: []string{demoCallerNumber},
	}})
	if err != nil {
		return "", err
	}
	return t.SipTrunkId, nil
}

func keyValid(ctx context.Context, db *postgres.DB, id, key string) bool {
	k, err := db.FindAPIKey(ctx, id)
	return err == nil && k.TenantID == demoTenant && k.Matches(key)
}

// readEnv reads the export lines of an env file written by seedDemo.
func readEnv(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "export ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[k] = strings.Trim(v, "'")
		}
	}
	return out
}

// demoExotelConfig is the demo Exotel trunk: make run's local sipp phone,
// which checks these credentials like Exotel would.
func demoExotelConfig(addr, ports string) (*dialq.SIPTrunkConfig, error) {
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("-exotel-address %q: %w", addr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("-exotel-address %q: bad port", addr)
	}
	var lo, hi int
	if _, err := fmt.Sscanf(ports, "%d-%d", &lo, &hi); err != nil {
		return nil, fmt.Errorf("-exotel-rtp-ports %q: want MIN-MAX", ports)
	}
	c := &dialq.SIPTrunkConfig{SIPHost: host, SIPPort: port, Transport: "tcp", FromDomain: "exotel.local",
		CallerID: "08044319240", Username: "exotel-demo", Password: "dialq-demo-sip",
		MediaIP: "127.0.0.1", RTPPortMin: lo, RTPPortMax: hi}
	return c, c.Normalize(dialq.Exotel)
}
