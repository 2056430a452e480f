package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// BenchmarkCreateCall is the Postgres half of the accept path: one call row
// and its call.queued event (whose trigger makes the tenant's webhook
// deliveries) per accepted POST /call/outbound. "no endpoints" is the
// common tenant; "an endpoint" one whose endpoint takes call.queued.
func BenchmarkCreateCall(b *testing.B) {
	for _, bc := range []struct {
		name      string
		endpoints int
	}{{"no endpoints", 0}, {"an endpoint", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			db, _ := testenv.Postgres(b)
			tenant := uuid.New()
			require.NoError(b, db.SaveTenant(ctx, &dialq.Tenant{ID: tenant, Name: "t"}))
			for range bc.endpoints {
				require.NoError(b, db.CreateWebhookEndpoint(ctx, &dialq.WebhookEndpoint{ID: uuid.New(), TenantID: tenant,
					URL: "https://example.invalid/hook", Events: []string{"call.queued"}, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: time.Now()}))
			}
			prompt := strings.Repeat("You are a friendly assistant calling about an appointment. ", 20)
			b.ResetTimer()
			for b.Loop() {
				c := &dialq.Call{ID: uuid.Must(uuid.NewV7()), TenantID: tenant, AssistantID: uuid.New(), TrunkID: "ST_bench",
					ToNumber: "+15550100000", Service: dialq.ServiceTwilio, Status: dialq.StatusQueued, Prompt: prompt,
					Metadata: map[string]any{"name": "Ada", "appointment": "Tuesday 10:00"}, CreatedAt: time.Now()}
				if _, err := db.CreateCall(ctx, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
