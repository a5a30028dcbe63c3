// Package migrations holds authd's Postgres schema as ordered SQL files,
// embedded into the binary and applied by goose.
package migrations

import "embed"

// FS holds every *.sql migration, named NNNNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
