package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/dialq/dialq/internal/app"
	"github.com/dialq/dialq/internal/calls"
	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/envconf"
)

// openCalls opens the calls service the API serves, on the same queue and
// channels: it reads the same variables as the API for them.
func openCalls(ctx context.Context) (*app.Calls, error) {
	l := envconf.New()
	cfg := readCallsConfig(l)
	if err := l.Err(); err != nil {
		return nil, err
	}
	return app.OpenCalls(ctx, cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// printCall prints what a call is now, one field a line.
func printCall(c *dialq.Call) error {
	fmt.Printf("call        %s\nstatus      %s\nto          %s (%s, trunk %s)\n", c.ID, c.Status, c.ToNumber, c.Service, c.TrunkID)
	for _, f := range [][2]string{{"room", c.RoomName}, {"dispatch", c.DispatchID}, {"participant", c.ParticipantIdentity},
		{"sip_call_id", c.SIPCallID}, {"failure", string(c.FailureReason)}, {"last_error", c.LastError}, {"end_reason", c.EndReason}} {
		if f[1] != "" {
			fmt.Printf("%-11s %s\n", f[0], f[1])
		}
	}
	return nil
}

func placeCall(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("place-call", flag.ExitOnError)
	tenant := fs.String("tenant", "", "tenant id (UUID)")
	assistant := fs.String("assistant", "", "assistant id (UUID)")
	trunk := fs.String("trunk", "", "trunk id (ST_...)")
	to := fs.String("to", "", "number to call, E.164")
	service := fs.String("service", "twilio", "call service: twilio or exotel")
	metadata := fs.String("metadata", "{}", "metadata, a JSON object")
	wait := fs.Duration("wait", 20*time.Second, "how long to wait for the call to be placed (0: return once queued)")
	fs.Parse(args)
	tid, err := uuidFlag("tenant", *tenant)
	if err != nil {
		return err
	}
	req := &dialq.OutboundRequest{AssistantID: *assistant, TrunkID: *trunk, ToNumber: *to, CallService: *service}
	if err := json.Unmarshal([]byte(*metadata), &req.Metadata); err != nil {
		return fmt.Errorf("-metadata must be a JSON object: %w", err)
	}
	c, err := openCalls(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	placed, err := c.Service.Place(ctx, calls.PlaceRequest{TenantID: tid, Request: req,
		MetadataBytes: len(*metadata), Wait: *wait})
	if err != nil {
		return err
	}
	return printCall(placed.Call)
}

func listCalls(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("calls", flag.ExitOnError)
	tenant := fs.String("tenant", "", "tenant id (UUID)")
	status := fs.String("status", "", "only calls in this status")
	to := fs.String("to", "", "only calls to this number (E.164)")
	limit := fs.Int("limit", 20, "page size")
	after := fs.String("after", "", "the next-page cursor a previous list printed")
	fs.Parse(args)
	tid, err := uuidFlag("tenant", *tenant)
	if err != nil {
		return err
	}
	c, err := openCalls(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	page, err := c.Service.List(ctx, tid, dialq.CallFilter{Status: dialq.CallStatus(*status), ToNumber: *to,
		Limit: *limit, After: *after})
	if err != nil {
		return err
	}
	for _, call := range page.Calls {
		fmt.Printf("%s  %-9s  %-16s  %s  %s\n", call.ID, call.Status, call.ToNumber, call.Service, call.CreatedAt.Format(time.RFC3339))
	}
	if page.Next != "" {
		fmt.Printf("more: dialqctl calls -tenant %s -after %s\n", tid, page.Next)
	}
	return nil
}

func hangupCall(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("hangup", flag.ExitOnError)
	tenant := fs.String("tenant", "", "tenant id (UUID)")
	id := fs.String("call", "", "call id (UUID)")
	fs.Parse(args)
	tid, err := uuidFlag("tenant", *tenant)
	if err != nil {
		return err
	}
	cid, err := uuidFlag("call", *id)
	if err != nil {
		return err
	}
	c, err := openCalls(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	call, ended, err := c.Service.Hangup(ctx, tid, cid)
	if err != nil {
		return err
	}
	if !ended {
		fmt.Fprintln(os.Stderr, "hang-up requested; the call has not ended yet")
	}
	return printCall(call)
}
