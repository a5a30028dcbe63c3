// Package migrations holds authd's Postgres schema as ordered SQL files,
// embedded into the binary and applied by goose.
package migrations
