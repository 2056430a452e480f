// Package postgres stores dialq's tenants, keys, assistants, trunks and calls
// in PostgreSQL, the source of truth for every call.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/dialq/dialq/internal/dialq"
	"github.com/dialq/dialq/internal/secret"
	"github.com/dialq/dialq/migrations"
)

// DB is dialq's PostgreSQL store. Its methods are safe for concurrent use.
type DB struct {
	db *sqlx.DB

	// prepared once: the accept path runs these on every request, through
	// calls, which inserts the calls that come together in one statement
	insertCall, insertCalls *sqlx.Stmt
	calls                   *callBatcher
	// stmts holds the other hot statements, prepared on first use (see
	// prepared).
	stmts sync.Map // query string → *sqlx.Stmt

	// secrets seals SIP passwords; nil refuses to store or read them.
	secrets *secret.Box

	// clock is where every time the store writes comes from (WithClock),
	// never the database server's now().
	clock func() time.Time

	// moves hears every status change the store records (WithCallMoves);
	// nil hears none.
	moves CallMoves
}

// now reads the store's clock to the microsecond, as Postgres keeps it.
func (s *DB) now() time.Time { return s.clock().Truncate(time.Microsecond) }

// UseSecrets sets the box SIP passwords are sealed with.
func (s *DB) UseSecrets(b *secret.Box) { s.secrets = b }

// DefaultStatementTimeout is how long Postgres lets one of dialq's
// statements run before it cancels it, unless Open is told otherwise.
const DefaultStatementTimeout = 10 * time.Second

// An Option changes how Open sets up the store.
type Option func(*options)

type options struct {
	statementTimeout time.Duration
	now              func() time.Time
	moves            CallMoves
}

// WithStatementTimeout sets the statement_timeout of the store's
// connections: Postgres cancels a statement that runs longer (an UPDATE
// stuck behind a lock, a plan gone bad) rather than hold a connection and
// the caller. 0 lets statements run for ever. A statement_timeout in the
// DSN itself wins over this.
func WithStatementTimeout(d time.Duration) Option {
	return func(o *options) { o.statementTimeout = d }
}

// WithClock sets the clock the store takes every time it writes from
// (updated_at, the timeline's at, the bridge's heartbeats, ...): the one
// the dialer and the bridge read, so that the times on a row and in its
// timeline compare with theirs. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// CallMoves hears each status change right after the statement recording it
// succeeded, once per change (a repeated or late event that changed nothing
// is not heard). It must not block: the caller's statement waits on it.
type CallMoves func(dialq.CallMove)

// WithCallMoves has the store tell moves of every status change it records,
// the creation of a call (queued) included: whichever process and component
// moved the call, this is the one place every change passes (the metrics of
// calls by status and end).
func WithCallMoves(moves CallMoves) Option {
	return func(o *options) { o.moves = moves }
}

// Open connects to dsn and prepares the hot statements. It does not migrate;
// call Migrate first on a new database. Statements run for at most
// DefaultStatementTimeout unless an option or the DSN says otherwise.
func Open(ctx context.Context, dsn string, maxConns int, opts ...Option) (*DB, error) {
	o := options{statementTimeout: DefaultStatementTimeout, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	dsn, err := withStatementTimeout(dsn, o.statementTimeout)
	if err != nil {
		return nil, err
	}
	db, err := sqlx.ConnectContext(ctx, "postgres", dsn)
	if err != nil {
		return nil, dialq.Errorf(dialq.EUNAVAILABLE, "connect to postgres: %v", err)
	}
	if maxConns <= 0 {
		maxConns = 20
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &DB{db: db, clock: o.now, moves: o.moves}
	if s.insertCall, err = db.PreparexContext(ctx, insertCallSQL); err != nil {
		db.Close()
		return nil, fmt.Errorf("prepare insert call (is the schema migrated?): %w", err)
	}
	if s.insertCalls, err = db.PreparexContext(ctx, insertCallsSQL); err != nil {
		s.insertCall.Close()
		db.Close()
		return nil, fmt.Errorf("prepare insert calls: %w", err)
	}
	// A quarter of the pool inserts calls: a batch is what waits while
	// they run, so more statements at once would only make smaller batches.
	// Their statements end with Postgres's statement_timeout, or a minute
	// without one: no caller's context ends a statement of many calls.
	batchTimeout := time.Minute
	if o.statementTimeout > 0 {
		batchTimeout = o.statementTimeout + 5*time.Second
	}
	s.calls = newCallBatcher(s.insertCall, s.insertCalls, max(1, maxConns/4), batchTimeout)
	return s, nil
}

// Close closes the pool.
func (s *DB) Close() error {
	s.calls.close()
	s.insertCall.Close()
	s.insertCalls.Close()
	s.stmts.Range(func(_, v any) bool {
		v.(*sqlx.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// prepared returns query as a prepared statement, preparing it the first
// time. lib/pq runs an unprepared query with arguments in two round trips
// (parse, then bind and execute) and Postgres plans it every time; a
// prepared one takes one round trip and, after a few runs, a cached plan.
// The worker's step records and the API's lookups go through here: they
// ran 13 round trips per call before.
func (s *DB) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := s.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// get runs a prepared query that returns one row into dest.
func (s *DB) get(ctx context.Context, dest any, query string, args ...any) error {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return err
	}
	return st.GetContext(ctx, dest, args...)
}

// exec runs a prepared statement.
func (s *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// Ping checks the database answers, for readiness probes.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Migrate applies every pending migration in migrations.FS. A Postgres
// advisory lock lets API and worker processes start together safely.
// Migrations run without Open's statement_timeout: building an index on a
// big table may take longer.
func Migrate(ctx context.Context, dsn string) error {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return fmt.Errorf("open postgres: %w", err)
	}
	defer db.Close()
	// One lock per schema: processes migrating the same schema take turns,
	// different schemas (tests) do not wait on each other.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(schemaLockID(dsn)), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	// Out of order: migrations written side by side can land in another
	// order than their numbers (00011 applied before 00008 on a database
	// that ran in between); each one stands alone, so a missing lower one
	// is applied rather than refused.
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS, goose.WithSessionLocker(locker),
		goose.WithAllowOutofOrder(true))
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// notFound turns sql.ErrNoRows into an ENOTFOUND error with msg.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return dialq.Errorf(dialq.ENOTFOUND, format, args...)
	}
	return err
}

// withStatementTimeout returns dsn with a statement_timeout of d, unless it
// has one already. lib/pq sends the keys it does not know itself as run-time
// parameters when it connects, so every connection of the pool starts with
// it. dsn is a URL or a list of key=value pairs, as lib/pq takes either.
func withStatementTimeout(dsn string, d time.Duration) (string, error) {
	ms := strconv.FormatInt(d.Milliseconds(), 10)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse the postgres URL: %w", err)
		}
		q := u.Query()
		if q.Has("statement_timeout") {
			return dsn, nil
		}
		q.Set("statement_timeout", ms)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	if statementTimeoutKey.MatchString(dsn) {
		return dsn, nil
	}
	return strings.TrimSpace(dsn + " statement_timeout=" + ms), nil
}

var statementTimeoutKey = regexp.MustCompile(`(^|\s)statement_timeout\s*=`)

// schemaLockID derives the migration advisory lock id from the DSN's
// search_path, so each schema has its own.
func schemaLockID(dsn string) int64 {
	schema := "public"
	if u, err := url.Parse(dsn); err == nil && u.Query().Get("search_path") != "" {
		schema = u.Query().Get("search_path")
	}
	h := fnv.New64a()
	h.Write([]byte("dialq-migrate:" + schema))
	return int64(h.Sum64() >> 1)
}
