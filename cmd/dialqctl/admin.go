package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/secret"
)

// openDB opens DATABASE_URL, with DIALQ_SECRET_KEY's box when it is set.
func openDB(ctx context.Context) (*postgres.DB, error) {
	l := envconf.New()
	dsn := readDatabaseURL(l)
	key := readSecretKey(l)
	if err := l.Err(); err != nil {
		return nil, err
	}
	db, err := postgres.Open(ctx, dsn, 2)
	if err != nil {
		return nil, err
	}
	if key != "" {
		box, err := secret.BoxFromKey(key)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("DIALQ_SECRET_KEY: %w", err)
		}
		db.UseSecrets(box)
	}
	return db, nil
}

// newSecretKey prints a fresh DIALQ_SECRET_KEY.
func newSecretKey() error {
	fmt.Println(secret.NewKey())
	return nil
}

// createTenant makes a tenant and prints its id.
func createTenant(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("create-tenant", flag.ExitOnError)
	name := fs.String("name", "", "the tenant's name (required)")
	limits := limitFlags(fs, "all the tenant's calls together, over all its trunks")
	fs.Parse(args)
	if strings.TrimSpace(*name) == "" {
		return fmt.Errorf("-name is required")
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	t := &dialq.Tenant{ID: uuid.New(), Name: *name, CallLimits: *limits}
	if err := db.SaveTenant(ctx, t); err != nil {
		return err
	}
	fmt.Println(t.ID)
	return nil
}

// tenantLimits changes the call limits of a tenant named by the flags
// given, keeps the other, and prints them.
func tenantLimits(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("tenant-limits", flag.ExitOnError)
	tenant := fs.String("tenant", "", "tenant id (UUID, required)")
	limits := limitFlags(fs, "all the tenant's calls together, over all its trunks")
	fs.Parse(args)
	tid, err := uuidFlag("tenant", *tenant)
	if err != nil {
		return err
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := db.FindTenant(ctx, tid)
	if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "max-concurrent-calls":
			t.MaxConcurrentCalls = limits.MaxConcurrentCalls
		case "calls-per-second":
			t.CallsPerSecond = limits.CallsPerSecond
		}
	})
	if err := db.SetTenantLimits(ctx, tid, t.CallLimits); err != nil {
		return err
	}
	fmt.Printf("tenant %s (%s): %s\n", tid, t.Name, t.CallLimits)
	return nil
}

// limitFlags adds -max-concurrent-calls and -calls-per-second to fs; what
// says what they cap.
func limitFlags(fs *flag.FlagSet, what string) *dialq.CallLimits {
	var l dialq.CallLimits
	fs.IntVar(&l.MaxConcurrentCalls, "max-concurrent-calls", 0,
		"how many calls may be live at once, "+what+"; 0 is no cap")
	fs.Float64Var(&l.CallsPerSecond, "calls-per-second", 0,
		"how many calls may be dialed per second, "+what+", evenly spaced; fractions allowed (200 a minute: 3.333); 0 is no cap. "+
			"A Twilio SIP trunk takes 1 per second unless raised, Exotel 200 a minute")
	return &l
}

// saveAssistant creates or updates a tenant's assistant.
func saveAssistant(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("save-assistant", flag.ExitOnError)
	tenant := fs.String("tenant", "", "tenant id (UUID, required)")
	id := fs.String("id", "", "assistant id (UUID; default a new one)")
	name := fs.String("name", "", "a label")
	prompt := fs.String("prompt", "", "the agent's prompt; {{key}} and {{key|default}} are filled from the call's metadata")
	start := fs.String("start-instruction", "", "what the agent says first; placeholders as in -prompt")
	agent := fs.String("agent-name", "", "the LiveKit agent name to dispatch (required)")
	joinTimeout := fs.Duration("agent-join-timeout", dialq.DefaultAgentJoinTimeout,
		"how long a call waits for the agent to join its room before the phone is dialed; an agent that has not joined by then fails the call as agent_unavailable")
	noWait := fs.Bool("dial-without-agent", false, "dial as soon as the agent is dispatched, without waiting for it to join (agents that join late on purpose)")
	keep := fs.Bool("keep-call-on-agent-leave", false,
		"keep an answered call going when the agent leaves the room (by default an agent hangs up by leaving); one left with no agent for DIALQ_AGENT_GRACE is hung up as failed, agent_left")
	fs.Parse(args)
	if *joinTimeout <= 0 {
		return fmt.Errorf("-agent-join-timeout must be positive")
	}
	tid, err := uuidFlag("tenant", *tenant)
	if err != nil {
		return err
	}
	aid := uuid.New()
	if *id != "" {
		if aid, err = uuidFlag("id", *id); err != nil {
			return err
		}
	}
	if strings.TrimSpace(*agent) == "" {
		return fmt.Errorf("-agent-name is required")
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.SaveAssistant(ctx, &dialq.Assistant{ID: aid, TenantID: tid, Name: *name, Prompt: *prompt,
		StartInstruction: *start, AgentName: *agent, AgentJoinTimeout: *joinTimeout, DialWithoutAgent: *noWait,
		KeepCallOnAgentLeave: *keep}); err != nil {
		return err
	}
	fmt.Println(aid)
	return nil
}

// saveTrunk creates or updates a tenant's trunk: a LiveKit SIP outbound
// trunk for twilio, or the Exotel bridge's SIP settings for exotel.
func saveTrunk(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("save-trunk", flag.ExitOnError)
	tenant := fs.String("tenant", "", "tenant id (UUID, required)")
	id := fs.String("id", "", "trunk id, ST_... (required)")
	name := fs.String("name", "", "a label")
	provider := fs.String("provider", "", "twilio or exotel (required)")
	lkTrunk := fs.String("livekit-trunk", "", "twilio: the LiveKit SIP outbound trunk id (default -id)")
	numbers := fs.String("numbers", "", "the numbers calls may use as caller_id, comma-separated: twilio, the LiveKit trunk's numbers in E.164; exotel, more virtual numbers beside -caller-id")
	var ex dialq.SIPTrunkConfig
	fs.StringVar(&ex.SIPHost, "sip-host", dialq.Exotel.Host, "exotel: SIP host")
	fs.IntVar(&ex.SIPPort, "sip-port", dialq.Exotel.Port, "exotel: SIP port")
	fs.StringVar(&ex.Transport, "transport", dialq.Exotel.Transport, "exotel: tcp or udp")
	fs.StringVar(&ex.FromDomain, "from-domain", "", "exotel: host part of From (default -sip-host)")
	fs.StringVar(&ex.CallerID, "caller-id", "", "exotel: the virtual number, 0XXXXXXXXXX or +91XXXXXXXXXX")
	fs.StringVar(&ex.Username, "username", "", "exotel: digest user name")
	fs.StringVar(&ex.MediaIP, "media-ip", "", "exotel: the public IP Exotel sends RTP to")
	ports := fs.String("rtp-ports", "30000-31999", "exotel: local RTP port range MIN-MAX")
	limits := limitFlags(fs, "through this trunk")
	fs.Parse(args)

	tid, err := uuidFlag("tenant", *tenant)
	if err != nil {
		return err
	}
	t := &dialq.Trunk{ID: *id, TenantID: tid, Name: *name, Provider: dialq.CallService(*provider), CallLimits: *limits}
	for n := range strings.SplitSeq(*numbers, ",") {
		if n = strings.TrimSpace(n); n != "" {
			t.Numbers = append(t.Numbers, n)
		}
	}
	switch t.Provider {
	case dialq.ServiceTwilio:
		t.LiveKitTrunkID = *lkTrunk
		if t.LiveKitTrunkID == "" {
			t.LiveKitTrunkID = t.ID
		}
	case dialq.ServiceExotel:
		if _, err := fmt.Sscanf(*ports, "%d-%d", &ex.RTPPortMin, &ex.RTPPortMax); err != nil {
			return fmt.Errorf("-rtp-ports %q: want MIN-MAX", *ports)
		}
		// The password comes from the environment, not a flag, so it stays
		// out of shell history and process lists.
		ex.Password = readExotelPassword(envconf.New())
		if ex.Password == "" {
			return fmt.Errorf("set DIALQ_EXOTEL_PASSWORD to the trunk's digest password")
		}
		t.SIP = &ex
	default:
		return fmt.Errorf("-provider must be twilio or exotel")
	}
	db, err := openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.SaveTrunk(ctx, t); err != nil {
		return err
	}
	if t.SIP != nil {
		fmt.Printf("%s saved: %s %s; %s\n", t.ID, t.Provider, t.SIP, t.CallLimits)
		return nil
	}
	fmt.Printf("%s saved: LiveKit trunk %s, numbers %v; %s\n", t.ID, t.LiveKitTrunkID, t.Numbers, t.CallLimits)
	return nil
}
