// Package migrations holds dialq's SQL schema migrations, embedded so the
// binaries can apply them at start-up (see internal/postgres.Migrate).
package migrations

import "embed"

// FS holds the numbered goose migration files.
//
//go:embed *.sql
var FS embed.FS
