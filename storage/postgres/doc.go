// Package postgres keeps authd's durable records in PostgreSQL: clients,
// users, grants (token families), consents and signing keys. It owns the
// connection pool and applies the embedded migrations.
//
// Every method maps a missing row to storage.ErrNotFound and a unique-key
// violation to storage.ErrConflict, wrapped so callers test with errors.Is.
package postgres
