package postgres

import "context"

// QueryString runs query on one of the pool's connections and returns its
// one text value, for tests of what a session of the store is set up with.
func (s *DB) QueryString(ctx context.Context, query string, args ...any) (string, error) {
	var v string
	err := s.db.QueryRowxContext(ctx, query, args...).Scan(&v)
	return v, err
}

// DSNWithStatementTimeout is withStatementTimeout, for its table test.
var DSNWithStatementTimeout = withStatementTimeout

// LargestCallBatch is the most calls one statement of the store inserted.
func (s *DB) LargestCallBatch() int { return int(s.calls.largest.Load()) }
