// Package postgres owns authd's durable records in PostgreSQL: clients,
// users, grants (token families), consents and signing keys, the connection
// pool, the embedded migrations and the advisory locks replicas share.
//
// Every method maps a missing row to storage.ErrNotFound, a unique-key
// violation to storage.ErrConflict and a database that cannot answer now
// (refused or dropped connection, timeout, closed pool, shutdown) to
// storage.ErrUnavailable, wrapping the driver's error so callers test with
// errors.Is (errors.go).
package postgres
