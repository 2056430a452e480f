package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/stretchr/testify/require"

	"github.com/dialq/dialq/internal/postgres"
	"github.com/dialq/dialq/internal/testkit/testenv"
)

// TestStatementTimeout: the store's connections cancel a statement that
// runs past their statement_timeout: DefaultStatementTimeout unless Open is
// given another, and the DSN's own setting over either.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, dsn := testenv.Postgres(t)
	for _, tc := range []struct {
		name string
		dsn  string
		opts []postgres.Option
		want string
	}{
		{"default", dsn, nil, "10s"},
		{"option", dsn, []postgres.Option{postgres.WithStatementTimeout(250 * time.Millisecond)}, "250ms"},
		{"none", dsn, []postgres.Option{postgres.WithStatementTimeout(0)}, "0"},
		{"dsn wins", dsn + "&statement_timeout=1500", []postgres.Option{postgres.WithStatementTimeout(time.Second)}, "1500ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := postgres.Open(ctx, tc.dsn, 2, tc.opts...)
			require.NoError(t, err)
			defer db.Close()
			got, err := db.QueryString(ctx, `SHOW statement_timeout`)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	db, err := postgres.Open(ctx, dsn, 2, postgres.WithStatementTimeout(100*time.Millisecond))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.QueryString(ctx, `SELECT pg_sleep(5)::text`)
	var pqErr *pq.Error
	require.ErrorAs(t, err, &pqErr)
	require.Equal(t, pqerror.QueryCanceled, pqErr.Code, "query_canceled: %v", err)
}

// TestDSNWithStatementTimeout: the timeout goes into either form of DSN
// lib/pq takes, unless the DSN sets one.
func TestDSNWithStatementTimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://u:p@h:5432/db", "postgres://u:p@h:5432/db?statement_timeout=2000"},
		{"postgresql://h/db?sslmode=disable", "postgresql://h/db?sslmode=disable&statement_timeout=2000"},
		{"postgres://h/db?statement_timeout=0", "postgres://h/db?statement_timeout=0"},
		{"host=h dbname=db sslmode=disable", "host=h dbname=db sslmode=disable statement_timeout=2000"},
		{"host=h statement_timeout = 5s", "host=h statement_timeout = 5s"},
		{"", "statement_timeout=2000"},
	} {
		got, err := postgres.DSNWithStatementTimeout(tc.dsn, 2*time.Second)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, tc.dsn)
	}
}
