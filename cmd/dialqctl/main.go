// Command dialqctl administers dialq: it applies migrations, makes tenants,
// API keys, assistants and trunks, seeds the demo tenant `make run` uses,
// and places, lists and hangs up calls through the same calls service as
// the API.
//
//	dialqctl migrate
//	dialqctl create-tenant -name NAME [-max-concurrent-calls N] [-calls-per-second R]
//	dialqctl tenant-limits -tenant <uuid> [-max-concurrent-calls N] [-calls-per-second R]
//	dialqctl create-key -tenant <uuid> [-name NAME]
//	dialqctl save-assistant -tenant <uuid> -agent-name NAME [-id UUID] [-prompt P] [-start-instruction S]
//	dialqctl save-trunk -tenant <uuid> -id ST_... -provider twilio [-livekit-trunk ST_...] [-max-concurrent-calls N] [-calls-per-second R]
//	DIALQ_EXOTEL_PASSWORD=... dialqctl save-trunk -tenant <uuid> -id ST_... -provider exotel -caller-id 0... -username U -media-ip IP [limits]
//	dialqctl new-secret-key
//	dialqctl seed-demo -env-file .dialq/demo.env
//	dialqctl place-call -tenant <uuid> -assistant <uuid> -trunk ST_... -to +E164 [-service twilio] [-metadata '{...}'] [-wait 20s]
//	dialqctl calls -tenant <uuid> [-status S] [-to +E164] [-limit N] [-after CURSOR]
//	dialqctl hangup -tenant <uuid> -call <uuid>
//	dialqctl env-docs [-check]
//	dialqctl probe [-timeout 2s] URL...
//	dialqctl -h
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/google/uuid"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/envconf"
	"github.com/dialq/dialq/internal/postgres"
)

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	switch os.Args[1] {
	case "migrate":
		err = migrate(ctx)
	case "create-tenant":
		err = createTenant(ctx, os.Args[2:])
	case "tenant-limits":
		err = tenantLimits(ctx, os.Args[2:])
	case "create-key":
		err = createKey(ctx, os.Args[2:])
	case "save-assistant":
		err = saveAssistant(ctx, os.Args[2:])
	case "save-trunk":
		err = saveTrunk(ctx, os.Args[2:])
	case "new-secret-key":
		err = newSecretKey()
	case "seed-demo":
		err = seedDemo(ctx, os.Args[2:])
	case "place-call":
		err = placeCall(ctx, os.Args[2:])
	case "calls":
		err = listCalls(ctx, os.Args[2:])
	case "hangup":
		err = hangupCall(ctx, os.Args[2:])
	case "env-docs":
		err = envDocs(os.Args[2:])
	case "probe":
		err = probe(ctx, os.Args[2:])
	case "-h", "-help", "--help", "help":
		usage(os.Stdout)
		fmt.Println()
		envconf.Help(os.Stdout, ctlBinary)
		return
	default:
		fmt.Fprintf(os.Stderr, "dialqctl: unknown command %q\n", os.Args[1])
		usage(os.Stderr)
		os.Exit(2)
	}
	if err != nil {
		msg := err.Error()
		if code := dialq.ErrorCode(err); code != dialq.EINTERNAL {
			msg = dialq.ErrorMessage(err) // what the API would answer
		}
		fmt.Fprintln(os.Stderr, "dialqctl:", msg)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, `usage: dialqctl COMMAND [flags]   (dialqctl COMMAND -h for its flags; dialqctl -h for the environment)
  migrate          apply the migrations
  create-tenant    make a tenant and print its id
  tenant-limits    set how many calls a tenant may have live at once and dial per second
                   (the flags given; the other stays)
  create-key       make an API key for a tenant (shown once)
  save-assistant   create or update an assistant
  save-trunk       create or update a trunk (twilio: LiveKit trunk; exotel: SIP settings,
                   password from DIALQ_EXOTEL_PASSWORD, sealed with DIALQ_SECRET_KEY) and its
                   call limits (-max-concurrent-calls, -calls-per-second)
  new-secret-key   print a fresh DIALQ_SECRET_KEY
  seed-demo        the demo tenant make run uses
  place-call       place a call as POST /call/outbound does, and print it
  calls            list a tenant's calls, newest first
  hangup           hang up a live bridged call
  env-docs         write the README's Configuration table and .env.example from what the
                   binaries read (-check: say whether they are up to date, change nothing)
  probe            GET each URL, fail unless all answer 2xx (the images' health check)`)
}

func migrate(ctx context.Context) error {
	l := envconf.New()
	dsn := readDatabaseURL(l)
	if err := l.Err(); err != nil {
		return err
	}
	if err := postgres.Migrate(ctx, dsn); err != nil {
		return err
	}
	fmt.Println("migrations applied")
	return nil
}

func createKey(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("create-key", flag.ExitOnError)
	tenant := fs.String("tenant", "", "tenant id (UUID)")
	name := fs.String("name", "", "a label for the key")
	fs.Parse(args)
	tid, err := uuidFlag("tenant", *tenant)
	if err != nil {
		return err
	}
	l := envconf.New()
	dsn := readDatabaseURL(l)
	if err := l.Err(); err != nil {
		return err
	}
	db, err := postgres.Open(ctx, dsn, 2)
	if err != nil {
		return err
	}
	defer db.Close()
	k, key := dialq.NewAPIKey(tid)
	if err := db.CreateAPIKey(ctx, k, *name); err != nil {
		return err
	}
	fmt.Println("API key (shown once; only its hash is stored):")
	fmt.Println(key)
	return nil
}

// uuidFlag reads the UUID flag -name, by the rule the API uses for ids.
func uuidFlag(name, value string) (uuid.UUID, error) {
	id, err := dialq.ParseUUID(value)
	if err != nil {
		return uuid.Nil, fmt.Errorf("-%s must be a UUID such as 550e8400-e29b-41d4-a716-446655440000, got %q", name, value)
	}
	return id, nil
}
